import type { DataSource } from 'typeorm';
import { parseBound } from '@trackly/database';
import { ManualClock } from '@trackly/kernel';
import { createLogger } from '@trackly/logging';
import { partitionsOf } from '@trackly/testing';
import { ClickPartitionsJob } from '../src/partitions/click-partitions.job';
import { loadTrackingConfig } from '../src/tracking.config';
import { trackingSchemaForTest } from './tracking-test-app';

jest.setTimeout(60_000);

const DAY = 86_400_000;

describe('tracking.clicks partitioned by day, kept by ClickPartitionsJob (real Postgres)', () => {
  let schema: Awaited<ReturnType<typeof trackingSchemaForTest>>;
  let ds: DataSource;

  beforeAll(async () => {
    schema = await trackingSchemaForTest();
    ds = schema.ds;
  });

  afterAll(() => schema?.close());

  const partitions = () => partitionsOf(ds, '"tracking".clicks');

  const click = (id: string, at: Date) =>
    ds.query(
      `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip, xid)
       VALUES ($1, 'm', 'c', 'o', 'camp', 'cr', $2, 'ua', '203.0.113.1', pg_current_xact_id())`,
      [id, at],
    );

  const where = async (id: string) => (await ds.query(`SELECT tableoid::regclass::text AS p FROM "tracking".clicks WHERE click_id = $1`, [id]))[0]?.p;

  it('creates the days ahead, routes clicks by day, and drops whole days past the retention (the legacy partition too)', async () => {
    const config = loadTrackingConfig({ TRACKING_CLICKS_RETENTION_DAYS: '120' });
    const future = new Date(Math.floor(Date.now() / DAY) * DAY + 300 * DAY + 3_600_000);
    const clock = new ManualClock(future);
    const job = new ClickPartitionsJob(ds, config, clock, createLogger('tracking-test', 'silent'));
    const before = await partitions();
    expect(before).toEqual(expect.arrayContaining(['clicks_default', 'clicks_legacy']));

    // 300 days on: everything the migration made is past the 120-day retention; today and 7 days ahead are made.
    const first = await job.run();
    const day = (d: number) => `clicks_p${new Date(future.getTime() + d * DAY).toISOString().slice(0, 10).replace(/-/g, '')}`;
    expect(first.created).toEqual(Array.from({ length: 8 }, (_, d) => day(d)));
    expect(first.dropped).toEqual(before.filter((p: string) => p !== 'clicks_default').sort());
    expect(await partitions()).toEqual([...Array.from({ length: 8 }, (_, d) => day(d)), 'clicks_default'].sort());

    await click('c-today', future);
    await click('c-ahead', new Date(future.getTime() + 3 * DAY));
    await click('c-far', new Date(future.getTime() + 30 * DAY)); // no day made yet: the default partition takes it
    expect(await where('c-today')).toBe(`tracking.${day(0)}`);
    expect(await where('c-ahead')).toBe(`tracking.${day(3)}`);
    expect(await where('c-far')).toBe('tracking.clicks_default');
    // A second pass at the same time changes nothing.
    expect(await job.run()).toEqual({ created: [], dropped: [] });

    // 121 days later today's partition (and its click) has gone, the rest is kept.
    clock.set(new Date(future.getTime() + 121 * DAY));
    const later = await job.run();
    expect(later.dropped).toEqual([day(0)]);
    expect(await where('c-today')).toBeUndefined();
    expect(await where('c-ahead')).toBe(`tracking.${day(3)}`);
  });

  it('reads partition bounds as Postgres prints them', () => {
    expect(parseBound('clicks_legacy', "FOR VALUES FROM (MINVALUE) TO ('2026-12-07 00:00:00+00')")).toEqual({ name: 'clicks_legacy', from: undefined, to: new Date('2026-12-07T00:00:00Z') });
    expect(parseBound('d', 'DEFAULT')).toEqual({ name: 'd', isDefault: true });
    expect(() => parseBound('x', 'FOR VALUES IN (1)')).toThrow(/unexpected partition bound of x/);
  });
});
