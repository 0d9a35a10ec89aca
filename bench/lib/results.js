'use strict';
/**
 * The one result format of `npm run bench`: each scenario writes
 *   { scenario, mode, ok, metrics: [{ metric, value, unit, baseline, ratio, target, met }], memory: { app: MB }, notes }
 * to the file named by `--json=<path>` (bench/run.js collects them into bench/results/). Without the flag nothing
 * is written: a scenario run alone just prints its table.
 */
const fs = require('node:fs');
const path = require('node:path');

/**
 * One measured figure. `target` is { op: '>=' | '<=' | '<', value, of: 'ratio' | 'value', text? }: a ratio target
 * compares value/baseline, a value target the figure itself. No target (or `applies: false`): met is null.
 */
function metric(name, value, unit, opts = {}) {
  const round = (x) => (typeof x === 'number' && Number.isFinite(x) ? +x.toFixed(x >= 100 ? 0 : 2) : x ?? null);
  const baseline = opts.baseline ?? null;
  // Higher is better for throughput, lower for latency: the ratio is always "how many times the baseline".
  const ratio = baseline ? value / baseline : null;
  const t = opts.target;
  let met = null;
  let target = null;
  if (t) {
    const x = t.of === 'ratio' ? ratio : value;
    const cmp = { '>=': (a, b) => a >= b, '<=': (a, b) => a <= b, '<': (a, b) => a < b, '>': (a, b) => a > b }[t.op];
    // applies: false = the run was not the size the target is set for (shown, not judged).
    if (t.applies === false) met = null;
    else met = x === null || x === undefined || Number.isNaN(x) ? false : cmp(x, t.value);
    target = t.text ?? `${t.op} ${t.value}${t.of === 'ratio' ? '× baseline' : ` ${unit}`}`;
  }
  return { metric: name, value: round(value), unit, baseline: round(baseline), ratio: ratio === null ? null : +ratio.toFixed(2), target, met };
}

/** Writes the scenario's result where `--json=` says (if it does) and returns it. */
function emitResults(result, argv = process.argv.slice(2)) {
  const flag = argv.find((a) => a.startsWith('--json='));
  const full = { ok: true, notes: [], memory: {}, ...result, finishedAt: new Date().toISOString() };
  if (flag) {
    const file = path.resolve(flag.slice('--json='.length));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${JSON.stringify(full, null, 2)}\n`);
  }
  return full;
}

module.exports = { metric, emitResults };
