import type { EntityManager } from 'typeorm';

const UNIQUE_VIOLATION = '23505';

/**
 * Runs `plainInsert` (an INSERT with no ON CONFLICT) under a savepoint and answers whether it wrote every row. For a
 * set-based write whose rows are almost always new (a backlog's events, a blast's sends): `ON CONFLICT DO NOTHING`
 * probes each key before inserting it and then confirms the insertion, about a third of such a statement's backend
 * CPU, where a plain INSERT checks the key once. When a row exists already (a redelivery, a re-drive) the INSERT
 * fails with a unique violation: the savepoint is rolled back and the answer is false, for the caller to write the
 * rows its conflict-aware way. Other errors are thrown. Outside a transaction there is no savepoint to return to:
 * false at once. Worth it for large sets only: the savepoint costs two round trips.
 */
export async function insertAllNew(m: EntityManager, savepoint: string, plainInsert: () => Promise<unknown>): Promise<boolean> {
  if (!m.queryRunner?.isTransactionActive) return false;
  await m.query(`SAVEPOINT ${savepoint}`);
  try {
    await plainInsert();
  } catch (e) {
    if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
    await m.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    return false;
  }
  await m.query(`RELEASE SAVEPOINT ${savepoint}`);
  return true;
}
