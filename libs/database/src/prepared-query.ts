import type { PoolClient } from 'pg';
import type { EntityManager } from 'typeorm';

/**
 * Runs a hot statement (one per batch on a consumer path; attribution's facts load, decisions insert and projection writes) as a named prepared statement on
 * the transaction's own connection: Postgres parses it once per connection and, once its plans are seen to cost the
 * same, plans it once, where an unnamed statement is parsed and planned on every call. Measured on the facts load:
 * 0.3 ms of backend CPU per call for 10 conversions instead of 1.1 ms (planning a dozen joins dominated), and no
 * worse at 500. `name` must be unique per text. Outside a transaction (no query runner), a plain query.
 */
export async function preparedQuery<T>(m: EntityManager, name: string, text: string, values: unknown[]): Promise<T[]> {
  const runner = m.queryRunner;
  if (!runner || runner.isReleased) return m.query(text, values);
  const client = (await runner.connect()) as PoolClient;
  const res = await client.query<T & object>({ name, text, values });
  return res.rows;
}
