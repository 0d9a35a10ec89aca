import type { Client } from 'pg';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';

const ACTIVITY_ROLLUPS = ['activity_rollup', 'activity_total_rollup', 'cohort_activity_rollup', 'cohort_activity_total_rollup'];

/**
 * The activity rollups (every grain) of buckets in [from, to) as the consumer moved them equal their rebuild from the
 * stored facts (done in a transaction that is rolled back): a send, tap or engagement counted twice shows as a
 * difference.
 */
export async function expectActivityRollupsEqualRebuild(pg: Client, from: string, to: string): Promise<void> {
  const read = async () => {
    const out: Record<string, string[]> = {};
    for (const table of ACTIVITY_ROLLUPS) {
      const { rows } = await pg.query(`SELECT * FROM "reporting".${table} WHERE bucket >= $1 AND bucket < $2`, [from, to]);
      out[table] = rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  };
  await pg.query('BEGIN');
  try {
    const live = await read();
    for (const sql of rebuildRollupsSql()) await pg.query(sql);
    expect(live).toEqual(await read());
  } finally {
    await pg.query('ROLLBACK');
  }
}
