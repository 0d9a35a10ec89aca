#!/usr/bin/env node
'use strict';
/**
 * `npm run bench:replay [-- --tiny|--quick] [-- --conversions=1000000 --changed=0.1 --cpu-prof --json=F]`
 *
 * Re-attribution at scale: seeds attribution's own schema directly (set-based INSERT ... SELECT generate_series into
 * its offer, send and click projections and its decisions: one send, one human click and one first-click decision
 * per conversion, 30-day offer windows), shortens one offer's window so that a share of the decisions no longer
 * holds, then calls the real Reattribute RPC of the built attribution app over consecutive time slices of at most
 * 10,000 decisions (its per-call limit) until every conversion was examined. Reports wall time and decisions/s,
 * then checks: every decision examined once, exactly the expected ones changed (to UNATTRIBUTED, OUTSIDE_WINDOW,
 * revision 1, one correction and one outbox event each, all published), the others untouched.
 */
const { parseArgs, modeOf, connect, printTable, unpublishedAfter, printChecks } = require('./lib/common');
const { startApps, grpcClient, requireDist, migrate } = require('./lib/platform');
const { metric, emitResults } = require('./lib/results');
const { runScenario } = require('./lib/scenario');

const args = parseArgs();
const MODE = modeOf(args);
const N = Number(args.conversions ?? { tiny: 1_000, quick: 20_000, full: 1_000_000 }[MODE]);
const OFFERS = 10; // offer off-0 (a tenth of the conversions) gets the shorter window
const SLICE = 10_000; // Reattribute examines at most 10,000 decisions per call
const DB = 'trackly_bench_replay';
const PREFIX = 'benchreplay';
const BASE = '2026-01-01T00:00:00Z'; // conversion i occurs at BASE + 2 days + i seconds

function seedSql() {
  const sentAt = (i) => `(timestamptz '${BASE}' + (${i}) * interval '1 second')`;
  const clickedAt = (i) => `(${sentAt(i)} + interval '5 minutes')`;
  const occurredAt = (i) => `(${sentAt(i)} + interval '2 days')`;
  return [
    ['offers', `INSERT INTO "attribution".offers (offer_id, click_window_days, updated_at)
      SELECT 'off-' || o, 30, now() FROM generate_series(0, ${OFFERS - 1}) o`],
    ['sends', `INSERT INTO "attribution".sends (message_id, contact_id, offer_id, campaign_id, creative_id, sent_at)
      SELECT 'm' || i, 'c' || i, 'off-' || (i % ${OFFERS}), 'camp-' || (i % 50), 'cr-' || (i % 400), ${sentAt('i')}
      FROM generate_series(1, ${N}) i`],
    ['clicks', `INSERT INTO "attribution".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
      SELECT 'k' || i, 'm' || i, 'c' || i, 'off-' || (i % ${OFFERS}), 'camp-' || (i % 50), 'cr-' || (i % 400), ${clickedAt('i')}, true, 'HUMAN'
      FROM generate_series(1, ${N}) i`],
    // What the engine decided when the windows were 30 days: first click, click-through, credited to the reported click.
    ['decisions', `INSERT INTO "attribution".decisions (partner_id, conversion_id, conversion_ref, outcome, reason, type, reported_click_id,
        credited_click_id, message_id, contact_id, offer_id, campaign_id, creative_id, payout_micros, currency, status, occurred_at,
        credited_clicked_at, window_days, decided_at, explanation, rule_version, rule, window_source, conversion_message_id, revision)
      SELECT 'bench', 'o' || i, '', 'ATTRIBUTED', NULL, 'CLICK_THROUGH', 'k' || i, 'k' || i, 'm' || i, 'c' || i, 'off-' || (i % ${OFFERS}),
        'camp-' || (i % 50), 'cr-' || (i % 400), 1000000 + (i % 50) * 10000, 'USD', 'APPROVED', ${occurredAt('i')}, ${clickedAt('i')}, 30,
        ${occurredAt('i')}, 'seeded by the replay bench', 'first-click/1', 'FIRST_CLICK', 'OFFER', '', 0
      FROM generate_series(1, ${N}) i`],
  ];
}

runScenario(args, { db: DB, prefix: PREFIX }, async ({ databaseUrl, onCleanup }) => {
  const c = await connect(databaseUrl);
  let platform;
  onCleanup(async () => {
    await platform?.stop();
    await c.end();
  });
  migrate('attribution', databaseUrl);
  const t0 = Date.now();
  for (const [table, sql] of seedSql()) {
    const t = Date.now();
    await c.query(sql);
    console.log(`seeded ${table} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  await c.query('ANALYZE');
  const seedSeconds = (Date.now() - t0) / 1000;
  // The rule change being replayed: offer off-0's click window goes from 30 days to 1; its conversions came 2 days after the click.
  await c.query(`UPDATE "attribution".offers SET click_window_days = 1, updated_at = now() WHERE offer_id = 'off-0'`);
  const expectedChanged = Math.floor(N / OFFERS);

  platform = await startApps(['tracking', 'attribution'], { databaseUrl, prefix: PREFIX, cpuProf: args['cpu-prof'] === 'true', label: 'replay' });
  const { AttributionServiceService } = requireDist('libs/contracts/src/gen/trackly/attribution/v1/attribution_service');
  const attribution = grpcClient(AttributionServiceService, platform.attributionGrpc, 600_000);
  console.log(`replay bench (${MODE}): re-attributing ${N} conversions in slices of ${SLICE} (expect ${expectedChanged} to change)`);

  const base = new Date(BASE).getTime() + 2 * 86_400_000;
  let examined = 0;
  let changed = 0;
  let calls = 0;
  const t1 = Date.now();
  for (let from = 1; from <= N; from += SLICE) {
    const r = await attribution.reattribute({
      occurredFrom: new Date(base + from * 1000),
      occurredTo: new Date(base + (from + SLICE) * 1000),
      offerId: '',
      dryRun: false,
      limit: SLICE,
    });
    examined += r.examined;
    changed += r.changed;
    calls++;
    if (calls % 10 === 0) console.log(`  ${examined} examined, ${changed} changed, ${((Date.now() - t1) / 1000).toFixed(0)} s`);
  }
  const wall = (Date.now() - t1) / 1000;
  attribution.close();

  // Every change leaves a correction and an AttributionCorrected in the outbox; wait for the relay to publish them.
  const unpublished = await unpublishedAfter(c, 'attribution', 120_000, 500);
  const drain = (Date.now() - t1) / 1000 - wall;
  const { rows: [s] } = await c.query(`SELECT
      (SELECT count(*)::int FROM "attribution".decisions WHERE offer_id = 'off-0' AND outcome = 'UNATTRIBUTED' AND reason = 'OUTSIDE_WINDOW' AND revision = 1) AS moved,
      (SELECT count(*)::int FROM "attribution".decisions WHERE offer_id <> 'off-0' AND outcome = 'ATTRIBUTED' AND revision = 0) AS kept,
      (SELECT count(*)::int FROM "attribution".corrections WHERE cause = 'reattribution') AS corrections,
      (SELECT count(*)::int FROM "attribution".outbox) AS outbox`);
  const memory = await platform.stop();
  platform = undefined;

  const checks = [
    { check: 'decisions examined', value: `${examined} / ${N}`, ok: examined === N },
    { check: 'changed (answered)', value: `${changed} / ${expectedChanged}`, ok: changed === expectedChanged },
    { check: 'off-0 decisions now OUTSIDE_WINDOW, revision 1', value: `${s.moved} / ${expectedChanged}`, ok: s.moved === expectedChanged },
    { check: 'other decisions untouched', value: `${s.kept} / ${N - expectedChanged}`, ok: s.kept === N - expectedChanged },
    { check: 'corrections logged', value: s.corrections, ok: s.corrections === expectedChanged },
    { check: 'AttributionCorrected in the outbox / unpublished', value: `${s.outbox} / ${unpublished}`, ok: s.outbox >= expectedChanged && unpublished === 0 },
  ];
  const rate = examined / wall;
  console.log('');
  printTable([{ conversions: N, calls, 'wall s': wall.toFixed(1), 'decisions/s': rate.toFixed(0), changed, 'outbox drained after s': drain.toFixed(1), 'seed s': seedSeconds.toFixed(1) }]);
  console.log('');
  const ok = printChecks(checks, memory);
  // The target is for 1 M; smaller runs are scaled to it (same per-decision cost, linear).
  const projected = (wall * 1_000_000) / N;
  emitResults({
    scenario: 'replay',
    mode: MODE,
    ok,
    config: { conversions: N, changedShare: 1 / OFFERS, slice: SLICE },
    metrics: [
      metric(`re-attribution of ${N} conversions, wall time`, wall, 's'),
      metric('re-attribution rate', rate, 'decisions/s'),
      metric('re-attribution of 1 M (projected from this run)', projected, 's', { target: { op: '<', value: 300, of: 'value', text: '< 300 s (1 M < 5 min)' } }),
    ],
    checks,
    memory,
    notes: [`Projected 1 M time = measured time × 1,000,000 / ${N}${N === 1_000_000 ? ' (measured directly)' : ''}. ${Math.round(100 / OFFERS)}% of decisions change; each change is saved, logged and published.`],
  });
  if (!ok) process.exitCode = 1;
});
