import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';

export interface TestInfra {
  /** Admin URL of the Postgres server (database "postgres"). */
  pgUrl: string;
  natsUrl: string;
}

export function testInfra(): TestInfra {
  const pgUrl = process.env.TRACKLY_TEST_PG_URL;
  const natsUrl = process.env.TRACKLY_TEST_NATS_URL;
  if (!pgUrl || !natsUrl) throw new Error('test infrastructure not resolved: run through jest (libs/testing global setup)');
  return { pgUrl, natsUrl };
}

function dbUrl(adminUrl: string, name: string): string {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

async function withAdmin<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: testInfra().pgUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/**
 * A throwaway database for one spec file, cloned from a template that was migrated once. The template's name holds
 * a hash of the migrations, so changed migrations build a new template instead of reusing a stale one.
 */
export async function createTestDatabase(
  name: string,
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: Function[],
  migrate: (url: string) => Promise<void>,
): Promise<TestDatabase> {
  const hash = createHash('sha256').update(migrations.map((m) => `${m.name}:${m.toString()}`).join('\n')).digest('hex').slice(0, 10);
  const template = `trackly_tpl_${name}_${hash}`;
  await withAdmin(async (c) => {
    await c.query('SELECT pg_advisory_lock(hashtext($1))', [template]);
    try {
      const { rows } = await c.query('SELECT datistemplate FROM pg_database WHERE datname = $1', [template]);
      if (rows.length && rows[0].datistemplate) return;
      if (rows.length) await c.query(`DROP DATABASE "${template}" WITH (FORCE)`);
      await c.query(`CREATE DATABASE "${template}"`);
      await migrate(dbUrl(testInfra().pgUrl, template));
      await c.query(`ALTER DATABASE "${template}" WITH IS_TEMPLATE true`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(hashtext($1))', [template]);
    }
  });
  const db = `trackly_t_${name}_${Math.floor(Date.now() / 1000)}_${randomBytes(4).toString('hex')}`;
  await withAdmin(async (c) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await c.query(`CREATE DATABASE "${db}" TEMPLATE "${template}"`);
        return;
      } catch (e) {
        // "source database is being accessed by other users": another clone is being made right now.
        if ((e as { code?: string }).code !== '55006' || attempt > 20) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  });
  return {
    url: dbUrl(testInfra().pgUrl, db),
    name: db,
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** A subject/stream prefix of this spec's own, so specs running in parallel never see each other's events. */
export function testNatsPrefix(): string {
  return `t${randomBytes(5).toString('hex')}`;
}

/** Deletes the streams (and so the consumers) made under a prefix. */
export async function deleteNatsPrefix(prefix: string): Promise<void> {
  const nc = await connect({ servers: testInfra().natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const mine = `${prefix.toUpperCase()}_`;
    for await (const s of jsm.streams.list()) {
      if (s.config.name.startsWith(mine)) await jsm.streams.delete(s.config.name);
    }
  } finally {
    await nc.close();
  }
}

/** Polls until the check returns a value (not undefined/false), or fails with the last error after the timeout. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000, intervalMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      // Name what did not happen: the last error the check threw, else the check itself.
      const what = check.toString().replace(/\s+/g, ' ').slice(0, 240);
      throw last instanceof Error ? last : new Error(`condition not met within ${timeoutMs} ms: ${what}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A TCP port free right now on 127.0.0.1 (for servers whose bound port cannot be read back, such as Nest gRPC): the launcher's one finder. */
export { freePort } from '../../../tools/launcher';

/**
 * Waits until a service's outbox holds nothing unpublished. An event the service would still publish (a stray
 * duplicate, say) is an unpublished outbox row until then, so afterwards the stream holds everything it will ever get
 * for what came before: the way to prove an absence without sleeping.
 */
export async function outboxDrained(databaseUrl: string, schema: string, timeoutMs = 10_000): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await eventually(async () => (await c.query(`SELECT count(*)::int AS n FROM "${schema}".outbox WHERE published_at IS NULL`)).rows[0].n === 0, timeoutMs);
  } finally {
    await c.end();
  }
}

/** The names of a partitioned table's partitions (`table` as `"schema".name`), sorted, through any pg/TypeORM query. */
export async function partitionsOf(db: { query(sql: string): Promise<unknown> }, table: string): Promise<string[]> {
  const res = (await db.query(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${table}'::regclass ORDER BY 1`,
  )) as { name: string }[] | { rows: { name: string }[] };
  return (Array.isArray(res) ? res : res.rows).map((r) => r.name);
}
