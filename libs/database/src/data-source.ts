import { Client } from 'pg';
import { DataSource, DataSourceOptions, MixedList, EntitySchema, MigrationExecutor } from 'typeorm';

export interface ServiceDatabaseOptions {
  /** postgres:// URL of the database holding this service's schema. */
  url: string;
  /** The schema this service owns; nothing else writes to it. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  poolSize?: number;
  applicationName?: string;
}

export function dataSourceOptions(opts: ServiceDatabaseOptions): DataSourceOptions {
  return {
    type: 'postgres',
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    // Each service keeps its own migration history inside its own schema.
    migrationsTableName: 'migrations',
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    synchronize: false,
    installExtensions: false,
    uuidExtension: 'pgcrypto',
    applicationName: opts.applicationName ?? `trackly-${opts.schema}`,
    extra: { max: opts.poolSize ?? 10, connectionTimeoutMillis: 5000 },
  };
}

export class DatabaseUnavailableError extends Error {}

function describe(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}/${u.pathname.slice(1)}`;
}

/** Creates the database named in the URL when it does not exist yet (local runs and tests start from nothing). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    throw new DatabaseUnavailableError(
      `PostgreSQL does not answer at ${describe(url)} (${(e as Error).message}). Start it, or point DATABASE_URL at one ` +
        `(see README "Postgres and NATS").`,
    );
  }
  try {
    const exists = async () => !!(await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount;
    if (!(await exists())) {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`).catch(async (e: unknown) => {
        // Created concurrently by another service: fine. Postgres reports that race as 42P04 or, when both
        // creations overlap, as a unique violation on pg_database (23505); so look rather than trust the code.
        if (!(await exists())) throw e;
      });
    }
  } finally {
    await client.end();
  }
}

/**
 * Creates the schema and runs pending migrations under an advisory lock, so replicas starting together (or a
 * migrate init container racing another pod) never run the same migration twice.
 */
export async function migrate(ds: DataSource, schema: string): Promise<string[]> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  const lockKey = `trackly-migrate:${schema}`;
  try {
    await runner.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    // On the connection that holds the lock: ds.runMigrations() would take a second one from the pool and wait for
    // ever (then time out) when the pool has a single connection.
    const executor = new MigrationExecutor(ds, runner);
    executor.transaction = 'each';
    const ran = await executor.executePendingMigrations();
    return ran.map((m) => m.name);
  } finally {
    await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    await runner.release();
  }
}

/** Opens a service's DataSource: database created if missing, schema created, migrations applied. */
export async function openServiceDatabase(opts: ServiceDatabaseOptions): Promise<DataSource> {
  await ensureDatabase(opts.url);
  const ds = new DataSource(dataSourceOptions(opts));
  await ds.initialize();
  try {
    await migrate(ds, opts.schema);
  } catch (e) {
    await ds.destroy();
    throw e;
  }
  return ds;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Applies pending migrations and closes: for the migrate init container, `npm run migrate` and test templates. */
export async function runServiceMigrations(opts: ServiceDatabaseOptions): Promise<string[]> {
  await ensureDatabase(opts.url);
  const ds = await new DataSource(dataSourceOptions(opts)).initialize();
  try {
    return await migrate(ds, opts.schema);
  } finally {
    await ds.destroy();
  }
}
