#!/usr/bin/env node
// `npm run migrate`: applies every service's pending migrations (what the Kubernetes migrate init containers run).
'use strict';
const { APPS, spawnApp } = require('./launcher');

(async () => {
  let failed = false;
  for (const app of APPS.filter((a) => a.db)) {
    const child = spawnApp(app.name, { args: ['migrate'], env: process.env, stdio: 'inherit' });
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    if (code !== 0) failed = true;
  }
  process.exit(failed ? 1 : 0);
})();
