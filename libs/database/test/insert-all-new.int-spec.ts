import { DataSource, EntityManager } from 'typeorm';
import { dataSourceOptions, insertAllNew } from '@trackly/database';
import { createTestDatabase, TestDatabase } from '@trackly/testing';

describe('insertAllNew (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('insertallnew', [], async () => undefined);
    ds = new DataSource(dataSourceOptions({ url: db.url, schema: 'public', entities: [], migrations: [], poolSize: 2 }));
    await ds.initialize();
    await ds.query('CREATE TABLE t (k text PRIMARY KEY)');
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const plain = (m: EntityManager, keys: string[]) => () => m.query('INSERT INTO t (k) SELECT unnest($1::text[])', [keys]);
  const keys = async () => ((await ds.query('SELECT k FROM t ORDER BY k')) as { k: string }[]).map((r) => r.k);

  it('writes every row when all are new, and the transaction goes on', async () => {
    await ds.transaction(async (m) => {
      expect(await insertAllNew(m, 'sp', plain(m, ['a1', 'a2']))).toBe(true);
      await m.query(`INSERT INTO t (k) VALUES ('a3')`);
    });
    expect(await keys()).toEqual(['a1', 'a2', 'a3']);
  });

  it('answers false with nothing of the attempt written when one row exists, and the transaction stays usable', async () => {
    await ds.query(`INSERT INTO t (k) VALUES ('b2')`);
    await ds.transaction(async (m) => {
      expect(await insertAllNew(m, 'sp', plain(m, ['b1', 'b2', 'b3']))).toBe(false);
      expect(((await m.query(`SELECT count(*)::int AS n FROM t WHERE k IN ('b1', 'b3')`)) as { n: number }[])[0].n).toBe(0);
      await m.query(`INSERT INTO t (k) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, [['b1', 'b2', 'b3']]);
    });
    expect((await keys()).filter((k) => k.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
  });

  it('throws any other error, and answers false outside a transaction without trying', async () => {
    await expect(ds.transaction((m) => insertAllNew(m, 'sp', () => m.query('INSERT INTO t (k) VALUES (NULL)')))).rejects.toThrow(/null value/);
    let tried = false;
    expect(await insertAllNew(ds.manager, 'sp', async () => (tried = true))).toBe(false);
    expect(tried).toBe(false);
  });
});
