#!/usr/bin/env node
// `npm run migrate`: applies every service's pending migrations (what the Kubernetes migrate init containers run).
'use strict';
const { spawnSync } = require('node:child_process');
const { APPS } = require('./platform');

let failed = false;
for (const app of APPS.filter((a) => a.db)) {
  const r = spawnSync(process.execPath, [app.main, 'migrate'], { stdio: 'inherit', env: process.env });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
