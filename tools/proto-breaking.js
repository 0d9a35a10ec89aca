#!/usr/bin/env node
// `npm run proto:breaking [-- <git ref>]`: buf's FILE breaking-change rules, proto/ against the contracts as they
// last landed. The ref defaults to proto/LANDED, the commit of the last main that passed CI (the lead updates it
// when a submission lands), because CI runs on main itself, where "against main" would compare a tree to itself.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const ref = process.argv[2] || fs.readFileSync(path.join(root, 'proto/LANDED'), 'utf8').trim();
try {
  execFileSync('git', ['cat-file', '-e', `${ref}^{commit}`], { cwd: root, stdio: 'ignore' });
} catch {
  // A shallow clone lacks the landed commit: fetch it, or say plainly why the check cannot run.
  try {
    execFileSync('git', ['fetch', '--quiet', '--depth=1', 'origin', ref], { cwd: root, stdio: 'inherit' });
  } catch {
    console.error(`proto:breaking: commit ${ref} (proto/LANDED) is not in this clone and could not be fetched; clone with history`);
    process.exit(2);
  }
}
console.log(`proto:breaking: proto/ against ${ref}`);
execFileSync(path.join(root, 'node_modules/.bin/buf'), ['breaking', 'proto', '--against', `.git#ref=${ref},subdir=proto`], { cwd: root, stdio: 'inherit' });
console.log('proto:breaking: no breaking change');
