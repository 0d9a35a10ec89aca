import type { DataSource } from 'typeorm';
import { partitionsOf } from '@trackly/testing';
import { TrackingClicksFirstClickIndex1765900000000 } from '../src/migrations/1765900000000-clicks-first-click-index.migration';
import { trackingSchemaForTest } from './tracking-test-app';

jest.setTimeout(60_000);

/** The first-click index migration on the partitioned clicks table: every partition served, resumable, inherited. */
describe('clicks_message_human_idx (migration 1765900000000, real Postgres)', () => {
  let schema: Awaited<ReturnType<typeof trackingSchemaForTest>>;
  let ds: DataSource;

  beforeAll(async () => {
    schema = await trackingSchemaForTest();
    ds = schema.ds;
  });

  afterAll(() => schema?.close());

  /** Each partition's index attached to the parent's, and whether the parent's is valid. */
  const state = async () => {
    const [parent]: { valid: boolean; def: string }[] = await ds.query(
      `SELECT indisvalid AS valid, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indexrelid = to_regclass('"tracking".clicks_message_human_idx')`,
    );
    const attached: { part: string; valid: boolean }[] = await ds.query(
      `SELECT t.relname AS part, x.indisvalid AS valid
       FROM pg_inherits h JOIN pg_index x ON x.indexrelid = h.inhrelid JOIN pg_class t ON t.oid = x.indrelid
       WHERE h.inhparent = to_regclass('"tracking".clicks_message_human_idx') ORDER BY t.relname`,
    );
    const [{ old }]: { old: string | null }[] = await ds.query(`SELECT to_regclass('"tracking"."IDX_clicks_message_id"')::text AS old`);
    return { parent, attached, old };
  };

  const runUp = async () => {
    const q = ds.createQueryRunner();
    try {
      await new TrackingClicksFirstClickIndex1765900000000().up(q);
    } finally {
      await q.release();
    }
  };

  it('serves every partition (legacy, daily, default) from a valid parent index, in the first-click order, and replaces the message_id index', async () => {
    const { parent, attached, old } = await state();
    expect(parent.valid).toBe(true);
    expect(parent.def).toContain('(message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE (click_class = \'HUMAN\'::text)');
    expect(attached.map((a) => a.part)).toEqual((await partitionsOf(ds, '"tracking".clicks')).sort());
    expect(attached.every((a) => a.valid)).toBe(true);
    expect(attached.map((a) => a.part)).toEqual(expect.arrayContaining(['clicks_default', 'clicks_legacy']));
    expect(old).toBeNull();
  });

  it('gives a partition created later (as the partition job does) the index', async () => {
    await ds.query(`CREATE TABLE "tracking".clicks_p20991231 PARTITION OF "tracking".clicks FOR VALUES FROM ('2099-12-31 00:00:00+00') TO ('2100-01-01 00:00:00+00')`);
    try {
      const { parent, attached } = await state();
      expect(attached.map((a) => a.part)).toContain('clicks_p20991231');
      expect(parent.valid).toBe(true);
    } finally {
      await ds.query(`DROP TABLE "tracking".clicks_p20991231`);
    }
  });

  it('resumes a run that stopped halfway: an attached partition is kept, a failed CONCURRENTLY build is dropped and built again', async () => {
    // Back to "stopped halfway": the parent's index invalid with one partition attached, another partition holding
    // the invalid leftover of a failed CONCURRENTLY build (a UNIQUE build over two HUMAN clicks of one message).
    await ds.query(`DROP INDEX "tracking".clicks_message_human_idx`);
    await ds.query(`CREATE INDEX "IDX_clicks_message_id" ON "tracking".clicks (message_id)`);
    await ds.query(`CREATE INDEX clicks_message_human_idx ON ONLY "tracking".clicks (message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE click_class = 'HUMAN'`);
    await ds.query(`CREATE INDEX clicks_legacy_message_human_idx ON "tracking".clicks_legacy (message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE click_class = 'HUMAN'`);
    await ds.query(`ALTER INDEX "tracking".clicks_message_human_idx ATTACH PARTITION "tracking".clicks_legacy_message_human_idx`);
    for (const id of ['dup-1', 'dup-2']) {
      await ds.query(
        `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip, xid)
         VALUES ($1, 'm-dup', 'c', 'o', 'camp', 'cr', '2099-06-01T00:00:00Z', 'ua', '203.0.113.1', pg_current_xact_id())`,
        [id],
      );
    }
    await expect(
      ds.query(`CREATE UNIQUE INDEX CONCURRENTLY clicks_default_message_human_idx ON "tracking".clicks_default (message_id) WHERE click_class = 'HUMAN'`),
    ).rejects.toThrow(/could not create unique index/);
    const halfway = await state();
    expect(halfway.parent.valid).toBe(false);
    expect(halfway.attached.map((a) => a.part)).toEqual(['clicks_legacy']);
    const [{ leftover }]: { leftover: boolean }[] = await ds.query(
      `SELECT indisvalid AS leftover FROM pg_index WHERE indexrelid = '"tracking".clicks_default_message_human_idx'::regclass`,
    );
    expect(leftover).toBe(false);

    await runUp();
    const done = await state();
    expect(done.parent.valid).toBe(true);
    expect(done.attached.map((a) => a.part)).toEqual((await partitionsOf(ds, '"tracking".clicks')).sort());
    expect(done.attached.every((a) => a.valid)).toBe(true);
    expect(done.old).toBeNull();
    // The rebuilt default partition's index is the first-click one, not the failed UNIQUE leftover.
    const [{ def }]: { def: string }[] = await ds.query(`SELECT pg_get_indexdef('"tracking".clicks_default_message_human_idx'::regclass) AS def`);
    expect(def).not.toContain('UNIQUE');
    expect(def).toContain('(message_id, xid NULLS FIRST, seq NULLS FIRST)');
    // A second run finds nothing to do.
    await runUp();
    expect(await state()).toEqual(done);
  });
});
