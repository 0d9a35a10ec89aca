#!/usr/bin/env node
'use strict';
/**
 * `node bench/lib/top-profile.js <file.cpuprofile | dir> [--top=15]`: the frames with the most self time in a V8
 * CPU profile (what `node --cpu-prof` writes), grouped by function + location, with their share of the samples.
 * Given a directory, summarises each .cpuprofile in it.
 */
const fs = require('node:fs');
const path = require('node:path');

function summarise(file, top) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  // Time per sample: the delta to the next one (timeDeltas[i] is the gap before sample i).
  const selfUs = new Map();
  const deltas = prof.timeDeltas ?? [];
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(prof.samples[i], (selfUs.get(prof.samples[i]) ?? 0) + Math.max(0, dt));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) || 1;
  const parent = new Map();
  for (const n of prof.nodes) for (const ch of n.children ?? []) parent.set(ch, n.id);
  const where = (f) => (f.url ? `${f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|dist\/bench\/platform)\//, '$1/')}:${f.lineNumber + 1}` : '');
  const label = (f) => ({ fn: f.functionName || '(anonymous)', at: where(f) });
  // Native and Node-internal frames (writev, stream plumbing) say little: also charge each sample to the nearest
  // frame above it in application or library code.
  const nearestJs = (id) => {
    for (let n = byId.get(id); n; n = byId.get(parent.get(n.id))) if (n.callFrame.url && !n.callFrame.url.startsWith('node:')) return n.callFrame;
    return byId.get(id)?.callFrame;
  };
  const table = (title, frameOf) => {
    const frames = new Map();
    for (const [id, us] of selfUs) {
      const f = frameOf(id);
      if (!f) continue;
      const l = label(f);
      const key = `${l.fn}\u0000${l.at}`;
      frames.set(key, (frames.get(key) ?? 0) + us);
    }
    const rows = [...frames.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
    console.log(`\n${title}`);
    console.log('| self % | self ms | function | where |');
    console.log('| ---: | ---: | --- | --- |');
    for (const [key, us] of rows) {
      const [fn, at] = key.split('\u0000');
      console.log(`| ${((us / total) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | ${fn} | ${at} |`);
    }
  };
  console.log(`\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled`);
  table(`top ${top} frames by self time`, (id) => byId.get(id)?.callFrame);
  table(`top ${top} JavaScript functions by self time (native and node: frames charged to their caller)`, nearestJs);
}

function main() {
  const argv = process.argv.slice(2);
  const top = Number((argv.find((a) => a.startsWith('--top=')) ?? '--top=15').slice(6));
  const target = argv.find((a) => !a.startsWith('--')) ?? path.resolve(__dirname, '../../dist/bench/profiles');
  const files = fs.statSync(target).isDirectory()
    ? fs.readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(target, f))
    : [target];
  if (!files.length) throw new Error(`no .cpuprofile in ${target} (run a bench with --cpu-prof)`);
  for (const f of files) summarise(f, top);
}

main();
