'use strict';
/**
 * Two servers measured in alternating slices, A B B A A B …, instead of one after the other.
 *
 * On shared cores the machine's speed drifts within minutes: the same bare server ran at 3,600–6,400 postbacks/s
 * within 30 minutes, and in one run every process's CPU per request doubled between the baseline and the app. Run one
 * after the other, the app-to-baseline ratio measured that drift as much as the app. Alternated, a slow minute falls on
 * both servers, and the mirrored order cancels a steady drift.
 *
 * Each slice is one autocannon run (`skipAggregateResult`); a server's slices are combined as one run: requests over
 * the slices' summed time, latency percentiles over all their requests. Its costs (CPU of each process, WAL) are
 * summed over its own slices. `settle` runs after each slice and is not timed: an app's relay catching up on what its
 * slice wrote would otherwise fall on the other server's slice.
 */
const autocannon = require('autocannon');

/**
 * A server to measure in slices.
 * - `run(seconds)`: one slice's load, resolving to autocannon's raw result (run it with `skipAggregateResult: true`).
 * - `probe()`: a snapshot of whatever the costs are computed from (CPU counters, a WAL position).
 * - `costs(before, after)`: the slice's costs as named numbers (undefined where the machine cannot tell).
 */
function sliced(name, { run, probe, costs }) {
  const results = [];
  const sums = {};
  return {
    name,
    async slice(seconds) {
      const before = await probe();
      results.push(await run(seconds));
      for (const [k, v] of Object.entries(await costs(before, await probe()))) sums[k] = (sums[k] ?? 0) + (v ?? Number.NaN);
    },
    /** The slices as one run: req/s, p50, p99, status counts, and each cost summed (undefined if any slice lacked it). */
    combined() {
      if (!results.length) throw new Error(`${name}: no slice ran`);
      // The options are only validated (a url is required); every figure comes from the results.
      const all = autocannon.aggregateResult(results, { url: 'http://127.0.0.1', connections: 1 });
      const seconds = results.reduce((s, r) => s + r.duration, 0);
      const total = results.reduce((s, r) => s + r.totalCompletedRequests, 0);
      const out = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, Number.isNaN(v) ? undefined : v]));
      return { ...out, rps: total / seconds, seconds, slices: results.length, p50: all.latency.p50, p99: all.latency.p99, result: all };
    },
  };
}

/** `slices` slices of `seconds` each per server (whole seconds: autocannon samples once a second), in the order A B, B A, A B, … */
async function alternate(a, b, { slices, seconds, settle }) {
  for (let i = 0; i < slices; i++) {
    for (const s of i % 2 === 0 ? [a, b] : [b, a]) {
      await s.slice(seconds);
      await settle?.(s);
    }
  }
}

module.exports = { sliced, alternate };
