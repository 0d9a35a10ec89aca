import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';

/**
 * The pg pool under a TypeORM DataSource (the same connections and limits), for the few hot paths where TypeORM's
 * per-query work (a query runner per call, parameter and logging hooks) is measurable: the click edge's batched
 * statement and link reads. Everything else goes through TypeORM.
 */
export function rawPool(ds: DataSource): Pool {
  const pool = (ds.driver as unknown as { master?: Pool }).master;
  if (!pool || typeof pool.query !== 'function') throw new Error('rawPool: the DataSource is not a connected postgres DataSource');
  return pool;
}
