import { DataSource } from 'typeorm';
import { dataSourceOptions, GroupCommit } from '@trackly/database';
import { createTestDatabase, TestDatabase } from '@trackly/testing';

jest.setTimeout(30_000);

describe('GroupCommit (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('groupcommit', [], async () => undefined);
    ds = new DataSource(dataSourceOptions({ url: db.url, schema: 'public', entities: [], migrations: [], poolSize: 4 }));
    await ds.initialize();
    await ds.query(`CREATE TABLE gc_rows (k text PRIMARY KEY, txid bigint NOT NULL DEFAULT txid_current())`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const insert = (k: string) => (m: import('typeorm').EntityManager) => m.query(`INSERT INTO gc_rows (k) VALUES ($1) RETURNING k`, [k]).then((r) => r[0].k as string);

  it('runs concurrent units in shared transactions; a failing unit leaves nothing behind and only its caller gets the error', async () => {
    const commits = new GroupCommit(ds, { enabled: true, windowMs: 20, maxBatch: 100, maxInFlight: 1 });
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    const results = await Promise.allSettled([
      ...keys.map((k) => commits.run(insert(k))),
      // A duplicate key: a unique violation inside its savepoint, after its own partial write.
      commits.run(async (m) => {
        await m.query(`INSERT INTO gc_rows (k) VALUES ('partial')`);
        return insert('k0')(m);
      }),
    ]);
    expect(results.slice(0, 50).map((r) => r.status)).toEqual(keys.map(() => 'fulfilled'));
    expect(results[50].status).toBe('rejected');
    expect(String((results[50] as PromiseRejectedResult).reason)).toMatch(/duplicate key/);
    const rows: { k: string; txid: string }[] = await ds.query(`SELECT k, txid::text FROM gc_rows`);
    expect(rows.map((r) => r.k).sort()).toEqual([...keys].sort());
    // Committed together: far fewer transactions than units.
    expect(new Set(rows.map((r) => r.txid)).size).toBeLessThan(10);
    await commits.drain();
  });

  it('with group commit off, each unit is its own transaction', async () => {
    const commits = new GroupCommit(ds, { enabled: false, windowMs: 2, maxBatch: 100, maxInFlight: 1 });
    await Promise.all(['x1', 'x2', 'x3'].map((k) => commits.run(insert(k))));
    const rows: { txid: string }[] = await ds.query(`SELECT txid::text FROM gc_rows WHERE k LIKE 'x%'`);
    expect(new Set(rows.map((r) => r.txid)).size).toBe(3);
  });

  it('a lost connection fails the whole batch: no caller is told its write committed', async () => {
    const commits = new GroupCommit(ds, { enabled: true, windowMs: 20, maxBatch: 100, maxInFlight: 1 });
    const results = await Promise.allSettled([
      commits.run(insert('y1')),
      commits.run(async (m) => {
        await m.query(`SELECT pg_terminate_backend(pg_backend_pid())`);
      }),
      commits.run(insert('y2')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await ds.query(`SELECT k FROM gc_rows WHERE k LIKE 'y%'`)).toEqual([]);
  });
});
