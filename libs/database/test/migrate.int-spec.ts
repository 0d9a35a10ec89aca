import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import {
  DatabaseUnavailableError,
  dataSourceOptions,
  ensureDatabase,
  migrate,
  openServiceDatabase,
  quoteIdent,
  runServiceMigrations,
} from '@trackly/database';
import { createTestDatabase, freePort, TestDatabase, testInfra } from '@trackly/testing';

jest.setTimeout(30_000);

const SCHEMA = 'migtest';

/** Each migration logs its own run and takes a while, so two unserialised runners would overlap visibly. */
class MigTestFirst1764300000001 implements MigrationInterface {
  name = 'MigTestFirst1764300000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE "migtest".runs (migration text NOT NULL, backend int NOT NULL DEFAULT pg_backend_pid())`);
    await q.query(`INSERT INTO "migtest".runs (migration) SELECT 'first' FROM pg_sleep(0.3)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "migtest".runs`);
  }
}

class MigTestSecond1764300000002 implements MigrationInterface {
  name = 'MigTestSecond1764300000002';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`INSERT INTO "migtest".runs (migration) SELECT 'second' FROM pg_sleep(0.3)`);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "migtest".runs WHERE migration = 'second'`);
  }
}

const migrations = [MigTestFirst1764300000001, MigTestSecond1764300000002];

function urlOf(name: string, base = testInfra().pgUrl): string {
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Named like createTestDatabase's, so the global set-up's stale-database sweep removes it if a run dies. */
function scratchName(tag: string): string {
  return `trackly_t_${tag}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
}

async function admin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: testInfra().pgUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  return admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
}

describe('database platform (real Postgres)', () => {
  let db: TestDatabase;
  const scratch: string[] = [];
  const sources: DataSource[] = [];

  function open(url: string): Promise<DataSource> {
    const ds = new DataSource(dataSourceOptions({ url, schema: SCHEMA, entities: [], migrations, poolSize: 3 }));
    sources.push(ds);
    return ds.initialize();
  }

  beforeAll(async () => {
    // An empty template: the database starts with no schema, as a fresh environment does.
    db = await createTestDatabase('database', [], async () => undefined);
  });

  afterAll(async () => {
    for (const ds of sources) if (ds.isInitialized) await ds.destroy();
    for (const name of scratch) await dropDatabase(name);
    await db?.drop();
  });

  it('runs each migration exactly once when two DataSources migrate the same fresh database at the same time', async () => {
    const [a, b] = await Promise.all([open(db.url), open(db.url)]);
    const [ranA, ranB] = await Promise.all([migrate(a, SCHEMA), migrate(b, SCHEMA)]);

    // One of them did all the work; the other waited for the lock and found nothing left to do.
    expect([ranA, ranB].sort((x, y) => y.length - x.length)).toEqual([['MigTestFirst1764300000001', 'MigTestSecond1764300000002'], []]);
    const runs: { migration: string }[] = await a.query(`SELECT migration FROM "migtest".runs ORDER BY migration`);
    expect(runs.map((r) => r.migration)).toEqual(['first', 'second']);
    const history: { name: string }[] = await a.query(`SELECT name FROM "migtest".migrations ORDER BY id`);
    expect(history.map((h) => h.name)).toEqual(['MigTestFirst1764300000001', 'MigTestSecond1764300000002']);

    // Later runs are no-ops, and the advisory lock was released (a third runner does not hang).
    expect(await migrate(b, SCHEMA)).toEqual([]);
    const [{ held }] = await a.query(
      `SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    expect(held).toBe(0);
  });

  it('migrates with a pool of one connection (the lock holder runs the migrations itself)', async () => {
    const name = scratchName('pool-one');
    scratch.push(name);
    await ensureDatabase(urlOf(name));
    const ds = new DataSource(dataSourceOptions({ url: urlOf(name), schema: SCHEMA, entities: [], migrations, poolSize: 1 }));
    sources.push(ds);
    await ds.initialize();
    expect(await migrate(ds, SCHEMA)).toEqual(['MigTestFirst1764300000001', 'MigTestSecond1764300000002']);
    expect(await migrate(ds, SCHEMA)).toEqual([]);
  });

  it('creates a missing database, tolerates an existing one, and survives several services creating it at once', async () => {
    const name = scratchName('ensure-db');
    scratch.push(name);
    const url = urlOf(name);
    expect(await databaseExists(name)).toBe(false);

    await Promise.all([ensureDatabase(url), ensureDatabase(url), ensureDatabase(url), ensureDatabase(url)]);
    expect(await databaseExists(name)).toBe(true);
    await ensureDatabase(url); // existing: nothing to do

    // The database is usable end to end: opened, schema created, migrated.
    const ds = await openServiceDatabase({ url, schema: SCHEMA, entities: [], migrations });
    sources.push(ds);
    const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM "migtest".runs`);
    expect(n).toBe(2);
    expect(await runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations })).toEqual([]);
  });

  it('creates a database whose name needs quoting', async () => {
    const name = scratchName('Quoted-"db"');
    scratch.push(name);
    await ensureDatabase(urlOf(encodeURIComponent(name)));
    expect(await databaseExists(name)).toBe(true);
  });

  it('fails with a clear DatabaseUnavailableError when nothing listens on the port', async () => {
    const port = await freePort();
    const url = `postgres://postgres@127.0.0.1:${port}/trackly_nowhere`;
    const started = Date.now();
    const e = await ensureDatabase(url).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DatabaseUnavailableError);
    expect((e as Error).message).toContain(`PostgreSQL does not answer at 127.0.0.1:${port}/trackly_nowhere`);
    expect((e as Error).message).toMatch(/DATABASE_URL/);
    expect(Date.now() - started).toBeLessThan(6000);

    await expect(openServiceDatabase({ url, schema: SCHEMA, entities: [], migrations })).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(runServiceMigrations({ url, schema: SCHEMA, entities: [], migrations })).rejects.toBeInstanceOf(DatabaseUnavailableError);
  });

  it('does not leak the password into the error message', async () => {
    const port = await freePort();
    const e = await ensureDatabase(`postgres://app:s3cr3t-pw@127.0.0.1:${port}/x`).catch((err: Error) => err);
    expect(e).toBeInstanceOf(DatabaseUnavailableError);
    expect((e as Error).message).not.toContain('s3cr3t-pw');
  });
});
