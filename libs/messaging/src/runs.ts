import { createHash } from 'node:crypto';

/**
 * Rows (in the order a relay or a re-drive read them) cut into runs of consecutive rows, each run one event: at most
 * `max` rows, and a new run wherever `sameRun(previous, row)` says so (e.g. another transaction).
 */
export function cutRuns<Row>(rows: readonly Row[], max: number, sameRun?: (previous: Row, row: Row) => boolean): Row[][] {
  const runs: Row[][] = [];
  let run: Row[] = [];
  for (const row of rows) {
    if (run.length && (run.length >= max || (sameRun && !sameRun(run[run.length - 1], row)))) {
      runs.push(run);
      run = [];
    }
    run.push(row);
  }
  if (run.length) runs.push(run);
  return runs;
}

/**
 * The event id of a run: `prefix:` + a digest of its members' ids in order, so the same run always has the same id
 * (a republish is dropped by the stream's duplicate window, a redelivery by the consumers' processed events) and a
 * run cut otherwise has another (its members are then applied once by their own keys).
 */
export function runId(prefix: string, ids: Iterable<string>): string {
  const digest = createHash('sha256');
  for (const id of ids) digest.update(id).update('\n');
  return `${prefix}:${digest.digest('base64url')}`;
}
