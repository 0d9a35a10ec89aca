// The apps as `npm start` runs them: where each one's build lands and where it listens by default.
'use strict';
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const main = (app) => path.join(root, 'dist/apps', app, 'apps', app, 'src/main.js');

const APPS = [
  { name: 'tracking', main: main('tracking'), db: true, listens: (e) => [`gRPC  127.0.0.1:${e.TRACKING_GRPC_PORT || 50051}`, `HTTP  http://127.0.0.1:${e.TRACKING_HTTP_PORT || 3001}/c/{code}  (click edge)`], ready: (e) => ({ http: `http://127.0.0.1:${e.TRACKING_HTTP_PORT || 3001}/readyz` }) },
  { name: 'ingest', main: main('ingest'), db: true, listens: (e) => [`gRPC  127.0.0.1:${e.INGEST_GRPC_PORT || 50052}`, `HTTP  http://127.0.0.1:${e.INGEST_HTTP_PORT || 3002}/postbacks/{partner}  (partner postbacks)`], ready: (e) => ({ http: `http://127.0.0.1:${e.INGEST_HTTP_PORT || 3002}/readyz` }) },
  { name: 'attribution', main: main('attribution'), db: true, listens: (e) => [`gRPC  127.0.0.1:${e.ATTRIBUTION_GRPC_PORT || 50053}`], ready: (e) => ({ grpc: `127.0.0.1:${e.ATTRIBUTION_GRPC_PORT || 50053}` }) },
  { name: 'reporting', main: main('reporting'), db: true, listens: (e) => [`gRPC  127.0.0.1:${e.REPORTING_GRPC_PORT || 50054}`], ready: (e) => ({ grpc: `127.0.0.1:${e.REPORTING_GRPC_PORT || 50054}` }) },
  { name: 'delivery', main: main('delivery'), db: true, listens: (e) => [`gRPC  127.0.0.1:${e.DELIVERY_GRPC_PORT || 50055}  (outbound webhooks and postbacks)`], ready: (e) => ({ grpc: `127.0.0.1:${e.DELIVERY_GRPC_PORT || 50055}` }) },
  { name: 'gateway', main: main('gateway'), db: false, listens: (e) => [`HTTP  http://127.0.0.1:${e.GATEWAY_HTTP_PORT || 3000}/  (the console; its API under /api, described at /api/openapi.json)`], ready: (e) => ({ http: `http://127.0.0.1:${e.GATEWAY_HTTP_PORT || 3000}/healthz` }) },
];

module.exports = { APPS, root };
