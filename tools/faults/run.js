// `npm run test:faults [-- --quick ...]`: builds the apps and the suite, copies the built apps out of dist/apps (a
// concurrent build elsewhere must not remove them under the running suite), then runs the scenarios.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '../..');
const out = path.join(root, 'dist/faults');
const apps = ['tracking', 'ingest', 'attribution', 'reporting'];
// Same lock as the deploy tests and the attribution crash spec: a build removes dist/apps/<app> while it runs.
const LOCK = '/tmp/trackly-deploy-build.lock';
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' };
// --reuse-apps: run against the apps copied by the previous run (e.g. while the tree does not build), rebuilding
// only the suite.
const reuse = process.argv.includes('--reuse-apps');
const args = process.argv.slice(2).filter((a) => a !== '--reuse-apps');
const build = [
  // No Nx cache: the apps' build inputs do not cover the libs they import, so a cached build can predate a lib change.
  ...(reuse ? [] : ['npx nx run-many -t build --projects=tag:type:app --output-style=static --skip-nx-cache']),
  'npx nx run faults:build --output-style=static',
  `rm -rf "${out}/suite"`,
  ...(reuse ? [] : [`rm -rf "${out}/apps" && mkdir -p "${out}/apps"`, ...apps.map((a) => `cp -r "dist/apps/${a}" "${out}/apps/${a}"`)]),
  `cp -r dist/tools/faults "${out}/suite"`,
].join(' && ');
execFileSync('flock', [LOCK, 'sh', '-c', build], { cwd: root, stdio: 'inherit', env });
const r = spawnSync(process.execPath, [path.join(out, 'suite/tools/faults/src/main.js'), '--root', root, ...args], { cwd: root, stdio: 'inherit', env });
process.exit(r.status ?? 1);
