import { Client, Pool } from 'pg';
import type { Msg } from '@nats-io/nats-core';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { runServiceMigrations } from '@trackly/database';
import { createTestDatabase, eventually, TestDatabase } from '@trackly/testing';
import { Events, Messaging, TableRelay, tableRelayCursorsSql, tableRelayIndexSql } from '@trackly/messaging';
import { CampaignUpserted } from '@trackly/contracts/tracking/v1/tracking_events';
import { NatsPrefixes, readStream, sleep } from './msgtest';

jest.setTimeout(60_000);

const SCHEMA = 'relaytest';

/** A source table as the relay expects it: xid and seq written with each row meant for the relay. */
class RelayTestInitial1765100000001 implements MigrationInterface {
  name = 'RelayTestInitial1765100000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE "${SCHEMA}".src_seq`);
    await q.query(`CREATE TABLE "${SCHEMA}".src (
      id text PRIMARY KEY,
      body text NOT NULL,
      xid xid8,
      seq bigint DEFAULT nextval('"${SCHEMA}".src_seq'),
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(tableRelayIndexSql(`"${SCHEMA}".src`, 'src_relay_idx'));
    for (const sql of tableRelayCursorsSql(SCHEMA)) await q.query(sql);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "${SCHEMA}".src`);
  }
}

const INSERT = `INSERT INTO "${SCHEMA}".src (id, body, xid) VALUES ($1, $2, pg_current_xact_id())`;

interface Row extends Record<string, unknown> {
  id: string;
  body: string;
}

/** Every publish seen on the wire (a core subscription), so a duplicate cannot hide behind the stream's dedupe. */
async function watchPublishes(m: Messaging): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  m.nc.subscribe(m.subject('trackly.tracking.v1.>'), {
    callback: (_err: Error | null, msg: Msg) => {
      const id = msg.headers?.get('Nats-Msg-Id') ?? '';
      ids.set(id, (ids.get(id) ?? 0) + 1);
    },
  });
  await m.nc.flush();
  return ids;
}

/**
 * Flushes until the stream holds `n` messages. Other work on the shared Postgres cluster (other spec files) can hold
 * the snapshot's xmin back for a moment, and the relay waits for it by design, so one flush may not be enough.
 */
async function flushUntil(r: TableRelay<Row>, m: Messaging, n: number): Promise<[string, string][]> {
  return eventually(async () => {
    await r.flush();
    const got = await readStream(m);
    return got.length >= n ? got : undefined;
  }, 20_000, 20);
}

describe('TableRelay (real Postgres and NATS JetStream)', () => {
  let db: TestDatabase;
  let pool: Pool;
  const nats = new NatsPrefixes();
  const relays: TableRelay<Row>[] = [];
  const clients: Client[] = [];

  function relay(m: Messaging, name: string, opts: { batchSize?: number; pollMs?: number; p?: Pool } = {}): TableRelay<Row> {
    const r = new TableRelay<Row>({
      pool: opts.p ?? pool,
      messaging: m,
      schema: SCHEMA,
      name,
      table: `"${SCHEMA}".src`,
      columns: 't.id, t.body',
      timeColumn: 'created_at',
      batchSize: opts.batchSize ?? 50,
      pollMs: opts.pollMs ?? 20,
      toEvents: (rows) =>
        rows.map((row) => ({
          subject: Events.CampaignUpserted.subject,
          id: row.id,
          payload: CampaignUpserted.encode({ campaign: { campaignId: row.id, name: row.body, updatedAt: undefined } }).finish(),
          headers: { 'Trackly-Test': row.body },
        })),
    });
    relays.push(r);
    return r;
  }

  async function client(): Promise<Client> {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    db = await createTestDatabase('tablerelay', [RelayTestInitial1765100000001], (url) =>
      runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations: [RelayTestInitial1765100000001] }).then(() => undefined),
    );
    pool = new Pool({ connectionString: db.url, max: 6 });
  });

  beforeEach(async () => {
    await pool.query(`DELETE FROM "${SCHEMA}".src`);
    await pool.query(`DELETE FROM "${SCHEMA}".table_relay_cursors`);
  });

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.stop()));
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
  });

  afterAll(async () => {
    await pool?.end();
    await nats.cleanup();
    await db?.drop();
  });

  it('publishes committed rows in (xid, seq) order with Nats-Msg-Id = the row id, once; rows without xid never', async () => {
    const m = await nats.connect('table-relay-order');
    const wire = await watchPublishes(m);
    await pool.query(`INSERT INTO "${SCHEMA}".src (id, body) VALUES ('legacy', 'written before the table was a source')`);
    const ids: string[] = [];
    for (let t = 0; t < 4; t++) {
      const c = await client();
      await c.query('BEGIN');
      for (let i = 0; i < 30; i++) {
        ids.push(`r-${t}-${i}`);
        await c.query(INSERT, [`r-${t}-${i}`, `row ${t}/${i}`]);
      }
      await c.query('COMMIT');
    }
    const r = relay(m, 'order', { batchSize: 7 });
    expect(await flushUntil(r, m, ids.length)).toEqual(ids.map((id) => [id, id]));
    expect([...wire.values()].every((n) => n === 1)).toBe(true);
    const { rows } = await pool.query(`SELECT xid::text, seq::text FROM "${SCHEMA}".table_relay_cursors WHERE relay = 'order'`);
    const last = await pool.query(`SELECT xid::text, seq::text FROM "${SCHEMA}".src WHERE id = $1`, [ids[ids.length - 1]]);
    expect(rows[0]).toEqual(last.rows[0]);
    // Nothing new: a second flush publishes nothing.
    await r.flush();
    expect(await readStream(m)).toHaveLength(ids.length);
  });

  it('commit race: a row of an older transaction that commits later is never skipped', async () => {
    const m = await nats.connect('table-relay-race');
    const r = relay(m, 'race');
    // T1 takes its transaction id first (as a writer does that wrote something else before its row)...
    const t1 = await client();
    await t1.query('BEGIN');
    await t1.query('SELECT pg_current_xact_id()');
    // ...a younger transaction T2 inserts, commits, and its row is visible to everyone.
    await pool.query(INSERT, ['young', 'T2, committed first']);
    // A cursor over seq or xid alone would publish "young" now and move past T1's xid for ever. The relay waits:
    // T1's xid is below its row's, so xmin has not passed "young" yet.
    await r.flush();
    expect(await readStream(m)).toEqual([]);
    // T1 inserts its row (smaller xid, larger seq) and commits last.
    await t1.query(INSERT, ['old', 'T1, committed last']);
    await t1.query('COMMIT');
    const seqs = await pool.query(`SELECT id, seq::int FROM "${SCHEMA}".src`);
    expect(seqs.rows.find((x) => x.id === 'old').seq).toBeGreaterThan(seqs.rows.find((x) => x.id === 'young').seq);
    // Both, in xid order (T1 first), exactly once.
    expect(await flushUntil(r, m, 2)).toEqual([
      ['old', 'old'],
      ['young', 'young'],
    ]);
  });

  it('commit race: an older transaction that rolls back holds the younger row only until it ends', async () => {
    const m = await nats.connect('table-relay-rollback');
    const r = relay(m, 'rollback');
    const t1 = await client();
    await t1.query('BEGIN');
    await t1.query(INSERT, ['doomed', 'rolled back']);
    await pool.query(INSERT, ['kept', 'committed']);
    await r.flush();
    expect(await readStream(m)).toEqual([]);
    await t1.query('ROLLBACK');
    expect(await flushUntil(r, m, 1)).toEqual([['kept', 'kept']]);
  });

  it('under concurrent writers (random sizes, interleaved commits and rollbacks), every committed row exactly once', async () => {
    const m = await nats.connect('table-relay-concurrent');
    const wire = await watchPublishes(m);
    const r = relay(m, 'concurrent', { batchSize: 40, pollMs: 5 });
    r.start();
    const writers = await Promise.all(Array.from({ length: 8 }, () => client()));
    const committed: string[] = [];
    const rolledBack: string[] = [];
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    await Promise.all(
      writers.map(async (c, w) => {
        for (let t = 0; t < 25; t++) {
          const ids = Array.from({ length: 1 + Math.floor(rand() * 6) }, (_, i) => `w${w}-t${t}-${i}`);
          await c.query('BEGIN');
          if (rand() < 0.5) await c.query('SELECT pg_current_xact_id()'); // an xid taken before the rows
          for (const id of ids) {
            await c.query(INSERT, [id, id]);
            if (rand() < 0.3) await sleep(Math.floor(rand() * 4));
          }
          if (rand() < 0.15) {
            await c.query('ROLLBACK');
            rolledBack.push(...ids);
          } else {
            await c.query('COMMIT');
            committed.push(...ids);
          }
          r.kick();
        }
      }),
    );
    await eventually(async () => committed.every((id) => wire.has(id)), 30_000, 50);
    await r.stop();
    expect(committed.length).toBeGreaterThan(300);
    expect(rolledBack.length).toBeGreaterThan(0);
    expect(committed.filter((id) => wire.get(id) !== 1)).toEqual([]);
    expect(rolledBack.filter((id) => wire.has(id))).toEqual([]);
    expect(wire.size).toBe(committed.length);
    const stream = await readStream(m);
    expect(stream.map(([id]) => id).sort()).toEqual([...committed].sort());
  });

  it('two replicas: one leads, nothing is published twice; the other takes over when the leader stops', async () => {
    const m = await nats.connect('table-relay-replicas');
    const m2 = await nats.connectTo(m.prefix, 'table-relay-replica-2');
    const wire = await watchPublishes(m);
    const pool2 = new Pool({ connectionString: db.url, max: 3 });
    try {
      const a = relay(m, 'replicas', { pollMs: 5 });
      const b = relay(m2, 'replicas', { pollMs: 5, p: pool2 });
      a.start();
      b.start();
      for (let i = 0; i < 200; i++) {
        await pool.query(INSERT, [`x-${i}`, 'x']);
        (i % 2 ? a : b).kick();
      }
      await eventually(async () => wire.size === 200, 20_000);
      await a.stop();
      for (let i = 200; i < 260; i++) await pool.query(INSERT, [`x-${i}`, 'x']);
      b.kick();
      await eventually(async () => wire.size === 260, 20_000);
      await b.stop();
      expect([...wire.values()].every((n) => n === 1)).toBe(true);
      expect((await readStream(m)).map(([id]) => id)).toEqual(Array.from({ length: 260 }, (_, i) => `x-${i}`));
    } finally {
      await pool2.end();
    }
  });

  it('a row published before a crash (cursor not moved) is republished with the same id and dropped by the stream', async () => {
    const m = await nats.connect('table-relay-crash');
    await pool.query(INSERT, ['c-1', 'one']);
    await pool.query(INSERT, ['c-2', 'two']);
    // What a relay that died between publish and cursor update left behind: c-1 is in the stream, the cursor at 0.
    await m.js.publish(
      m.subject(Events.CampaignUpserted.subject),
      CampaignUpserted.encode({ campaign: { campaignId: 'c-1', name: 'one', updatedAt: undefined } }).finish(),
      { msgID: 'c-1' },
    );
    expect(await flushUntil(relay(m, 'crash'), m, 2)).toEqual([
      ['c-1', 'c-1'],
      ['c-2', 'c-2'],
    ]);
  });

  it('a batch JetStream does not acknowledge (no stream takes the subject) fails the pass and leaves the cursor', async () => {
    const m = await nats.connect('table-relay-nostream');
    await pool.query(INSERT, ['n-1', 'one']);
    const r = new TableRelay<Row>({
      pool,
      messaging: m,
      schema: SCHEMA,
      name: 'nostream',
      table: `"${SCHEMA}".src`,
      columns: 't.id',
      ackTimeoutMs: 2000,
      toEvents: (rows) => rows.map((row) => ({ subject: 'trackly.nowhere.v1.Nothing', id: row.id, payload: new Uint8Array([1]) })),
    });
    relays.push(r);
    await expect(eventually(async () => (await r.flush(), false), 20_000, 20)).rejects.toThrow(/no stream takes the subject/);
    const { rows } = await pool.query(`SELECT xid::text FROM "${SCHEMA}".table_relay_cursors WHERE relay = 'nostream'`);
    expect(rows.map((x) => x.xid)).toEqual(['0']);
  });

  it('stop() publishes what was committed even when nothing kicked it', async () => {
    const m = await nats.connect('table-relay-stop');
    const r = relay(m, 'stop', { pollMs: 60_000 });
    r.start();
    await eventually(async () => r.waiting); // found nothing, and sleeps for a minute
    for (let i = 0; i < 25; i++) await pool.query(INSERT, [`s-${i}`, 's']);
    await r.stop();
    expect(await readStream(m)).toHaveLength(25);
  });
});
