import { checkGrpcSecurity, grpcSecurityShape, loadConfig } from '@trackly/config';
import { runDemo } from './demo';

const env = process.env;
runDemo({
  trackingGrpc: env.TRACKING_GRPC_URL ?? '127.0.0.1:50051',
  ingestGrpc: env.INGEST_GRPC_URL ?? '127.0.0.1:50052',
  ingestHttp: env.INGEST_PUBLIC_URL ?? 'http://127.0.0.1:3002',
  gatewayHttp: env.GATEWAY_URL ?? 'http://127.0.0.1:3000',
  apiKey: env.GATEWAY_API_KEY,
  grpcSecurity: loadConfig('demo', grpcSecurityShape, env, checkGrpcSecurity),
}).then(
  () => process.exit(0),
  (e) => {
    console.error(`demo failed: ${(e as Error).message}\nIs the platform running? Start it with \`npm start\` in another terminal.`);
    process.exit(1);
  },
);
