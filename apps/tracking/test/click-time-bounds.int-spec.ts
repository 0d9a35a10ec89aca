import type { DataSource } from 'typeorm';
import { addPeriods, periodStart, periodsFrom } from '@trackly/database';
import { partitionsOf } from '@trackly/testing';
import { GENERIC_PLAN_SETTINGS, tableRelayRead } from '@trackly/messaging';
import { CLICK_COLUMNS, CLICK_JOINS, CLICK_RELAY_SOURCE } from '../src/clicks/click-events';
import { trackingSchemaForTest } from './tracking-test-app';

jest.setTimeout(60_000);

const DAY = 86_400_000;

/** A plan node of EXPLAIN (FORMAT JSON). */
interface PlanNode {
  'Node Type': string;
  'Parent Relationship'?: string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

/** The click partitions a plan's sub-plans (the first-click EXISTS) actually scanned. */
function scannedInSubPlans(node: PlanNode, inSubPlan = false, out: string[] = []): string[] {
  const sub = inSubPlan || node['Parent Relationship'] === 'SubPlan';
  if (sub && node['Relation Name']?.startsWith('clicks_') && (node['Actual Loops'] ?? 0) > 0) out.push(node['Relation Name']);
  for (const child of node.Plans ?? []) scannedInSubPlans(child, sub, out);
  return out;
}

/** Every node of a plan, depth first. */
function nodesOf(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  for (const child of node.Plans ?? []) nodesOf(child, out);
  return out;
}

/**
 * The first-click rule and GetMessage's count bounded from below in time (CLICK_TIME_TOLERANCE_MS), on clicks partitioned by day
 * as a deployment holds them after months: every day its own partition, none covering the past as a whole.
 */
describe('click reads bounded by time over daily partitions (real Postgres)', () => {
  let schema: Awaited<ReturnType<typeof trackingSchemaForTest>>;
  let ds: DataSource;
  const now = Date.now();

  beforeAll(async () => {
    schema = await trackingSchemaForTest();
    ds = schema.ds;
    // The migration's legacy partition covers everything up to the day after tomorrow; a year on it is long dropped
    // and each past day has its own partition. Here: the last 60 days, up to where the daily partitions begin.
    await ds.query(`ALTER TABLE "tracking".clicks DETACH PARTITION "tracking".clicks_legacy`);
    await ds.query(`DROP TABLE "tracking".clicks_legacy`);
    // The daily partitions the migration made begin the day after tomorrow as of the template's migration, which may
    // be yesterday's (a run that crosses midnight): those days are kept, not made again.
    const existing = new Set(await partitionsOf(ds, '"tracking".clicks'));
    const today = periodStart(new Date(), 'day');
    for (const p of periodsFrom('clicks', addPeriods(today, -60, 'day'), 62, 'day').filter((p) => !existing.has(p.name))) {
      await ds.query(`CREATE TABLE "tracking".${p.name} PARTITION OF "tracking".clicks FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`);
    }
  });

  afterAll(() => schema?.close());

  const message = (id: string, createdAt: number, sentAt: number) =>
    ds.query(
      `INSERT INTO "tracking".messages (message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code, created_at)
       VALUES ($1, 'contact', '+15550100', 'camp', 'cr', 'offer', $2, $3, $4)`,
      [id, new Date(sentAt), `code${id.replace(/[^a-z0-9]/gi, '')}`, new Date(createdAt)],
    );
  const click = (id: string, messageId: string, at: number, clickClass = 'HUMAN') =>
    ds.query(
      `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip, click_class, xid)
       VALUES ($1, $2, 'contact', 'offer', 'camp', 'cr', $3, 'ua', '203.0.113.1', $4, pg_current_xact_id())`,
      [id, messageId, new Date(at), clickClass],
    );
  const firstFlags = async (ids: string[]) => {
    const rows: { click_id: string; first_click_on_message: boolean }[] = await ds.query(
      `SELECT ${CLICK_COLUMNS} FROM "tracking".clicks AS t ${CLICK_JOINS} WHERE t.click_id = ANY($1)`,
      [ids],
    );
    return Object.fromEntries(rows.map((r) => [r.click_id, r.first_click_on_message]));
  };

  it('keeps the first-click rule across days: old messages, scheduled sends, messages whose row is gone', async () => {
    await message('m-old', now - 40 * DAY, now - 40 * DAY);
    await click('c-old-1', 'm-old', now - 40 * DAY + 60_000);
    await click('c-old-2', 'm-old', now - 20 * DAY);
    await click('c-old-3', 'm-old', now - 3_600_000);
    // Registered an hour ago with a send time three days ahead (the caller's): clicks now are still after registration.
    await message('m-sched', now - 3_600_000, now + 3 * DAY);
    await click('c-sched-p', 'm-sched', now - 1_800_000, 'PREVIEW');
    await click('c-sched-1', 'm-sched', now - 1_700_000);
    await click('c-sched-2', 'm-sched', now);
    // No message row: nothing bounds the probe from below.
    await click('c-gone-1', 'm-gone', now - 30 * DAY);
    await click('c-gone-2', 'm-gone', now);
    // Sent 30 days ago but registered (backfilled) today: the earlier of the two bounds.
    await message('m-backfill', now - 60_000, now - 30 * DAY);
    await click('c-back-1', 'm-backfill', now - 29 * DAY);
    await click('c-back-2', 'm-backfill', now);

    expect(await firstFlags(['c-old-1', 'c-old-2', 'c-old-3', 'c-sched-p', 'c-sched-1', 'c-sched-2', 'c-gone-1', 'c-gone-2', 'c-back-1', 'c-back-2'])).toEqual({
      'c-old-1': true, 'c-old-2': false, 'c-old-3': false,
      'c-sched-p': false, 'c-sched-1': true, 'c-sched-2': false,
      'c-gone-1': true, 'c-gone-2': false,
      'c-back-1': true, 'c-back-2': false,
    });
  });

  it('probes only the days around a recent message, not every partition kept', async () => {
    await message('m-new', now - 600_000, now - 600_000);
    await click('c-new-1', 'm-new', now - 300_000);
    await click('c-new-2', 'm-new', now);
    const total = (await partitionsOf(ds, '"tracking".clicks')).length;
    expect(total).toBeGreaterThan(60);
    const [{ 'QUERY PLAN': plan }]: { 'QUERY PLAN': { Plan: PlanNode }[] }[] = await ds.query(
      `EXPLAIN (ANALYZE, FORMAT JSON) SELECT ${CLICK_COLUMNS} FROM "tracking".clicks AS t ${CLICK_JOINS}
       WHERE t.click_id = 'c-new-2' AND t.clicked_at >= now() - interval '1 hour'`,
    );
    const scanned = scannedInSubPlans(plan[0].Plan);
    // From a day before the registration on, stopping at the partition that holds the earlier click: yesterday's and
    // today's (a third when the two clicks straddle midnight UTC), where unbounded it probed every partition.
    expect(scanned.length).toBeGreaterThan(0);
    expect(scanned.length).toBeLessThanOrEqual(3);
    expect((await firstFlags(['c-new-1', 'c-new-2']))).toEqual({ 'c-new-1': true, 'c-new-2': false });
  });

  it("keeps the clicks relay's read, planned once for every cursor (its generic plan), to index probes over the days it needs", async () => {
    await message('m-relay', now - 600_000, now - 600_000);
    await click('c-relay-1', 'm-relay', now - 300_000);
    await click('c-relay-2', 'm-relay', now);
    // A cursor just before the first of them (each click above committed alone, so in this order).
    const [cursor]: { xid: string; seq: string }[] = await ds.query(`SELECT xid::text AS xid, (seq - 1)::text AS seq FROM "tracking".clicks WHERE click_id = 'c-relay-1'`);
    // EXECUTE takes no bind parameters: the cursor's two numbers (from the table) written in.
    const execute = `EXECUTE relay_read('${cursor.xid}', ${Number(cursor.seq)}, 1000)`;
    // The relay's own session: its settings, then the read it prepares (ClickEventsRelay, TableRelay).
    const qr = ds.createQueryRunner();
    try {
      await qr.query(GENERIC_PLAN_SETTINGS);
      await qr.query(`PREPARE relay_read AS ${tableRelayRead(CLICK_RELAY_SOURCE)}`);
      const [{ 'QUERY PLAN': plan }]: { 'QUERY PLAN': { Plan: PlanNode }[] }[] = await qr.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${execute}`);
      const nodes = nodesOf(plan[0].Plan);
      // Each message read by its key, never a scan of all messages (CLICK_JOINS' LATERAL … LIMIT 1).
      const onMessages = nodes.filter((n) => n['Relation Name'] === 'messages');
      expect(onMessages.length).toBeGreaterThan(0);
      expect(onMessages.every((n) => n['Node Type'].startsWith('Index'))).toBe(true);
      // The first-click probes pruned at run time to the days from the message's bound on (a day before it was
      // registered), as with a custom plan: none of the 59 days before. A first click probes on to the partitions
      // made ahead, which nothing bounds from above (click-events.ts).
      const scanned = scannedInSubPlans(plan[0].Plan);
      const boundDay = `clicks_p${new Date(now - 600_000 - DAY).toISOString().slice(0, 10).replace(/-/g, '')}`;
      expect(scanned).toContain(boundDay);
      expect(scanned.filter((p) => p !== 'clicks_default' && p < boundDay)).toEqual([]);
      // What it reads: the two clicks, in order, with the first-click flag.
      const rows: { click_id: string; first_click_on_message: boolean }[] = await qr.query(execute);
      expect(rows.map((r) => [r.click_id, r.first_click_on_message])).toEqual([
        ['c-relay-1', true],
        ['c-relay-2', false],
      ]);
    } finally {
      await qr.query('DEALLOCATE relay_read').catch(() => undefined);
      await qr.release();
    }
  });
});
