import type { DataSource, EntityManager } from 'typeorm';

/** One table a read model reset empties: every row, or only the rows of some durable consumers (processed_events). */
export interface ResetTable {
  /** Table name inside the schema. */
  table: string;
  /** Only the processed_events rows of these durables (the consumers that feed the read model). */
  consumers?: string[];
}

export interface ReadModelSpec {
  /** The service's schema. */
  schema: string;
  /** What a reset removes, in that order. */
  reset: ResetTable[];
  /** Tables of the schema a reset keeps (own truth, user input, the outbox): listed so every table is accounted for. */
  keep: string[];
}

export interface ResetCount {
  /** Schema-qualified. */
  table: string;
  /** Empty = every row. */
  rowsMatching: string;
  rows: number;
}

/** A reset that waits on a consumer's locks gives way rather than stalling the consumers behind it. */
const LOCK_TIMEOUT_MS = 5000;
const ATTEMPTS = 5;
/** deadlock_detected, lock_not_available: a consumer's group held the tables; try again. */
const RETRYABLE = new Set(['40P01', '55P03']);

/**
 * Empties a read model so a re-drive of its producers rebuilds it. The tables are locked EXCLUSIVE first (readers
 * — reports — carry on while it counts; writers — the consumers — wait), then counted and emptied in the same
 * transaction: a group
 * of events a consumer commits is either wholly before the reset (its rows and its processed-event records are both
 * removed, and the re-drive applies it again) or wholly after it (both stay, and the re-drive is skipped for it).
 * Without the lock a group committing between the DELETE of a fact table and that of processed_events would leave
 * its records gone and its rows in place, and the re-drive would count it twice.
 */
export class ReadModelReset {
  constructor(
    private readonly ds: DataSource,
    readonly spec: ReadModelSpec,
  ) {}

  get keptTables(): string[] {
    return this.spec.keep.map((t) => `${this.spec.schema}.${t}`);
  }

  /** Counts (dryRun) or removes; per table in reset order. */
  async run(dryRun: boolean): Promise<ResetCount[]> {
    if (dryRun) return this.count(this.ds.manager);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.ds.transaction(async (m) => {
          await m.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
          await m.query(`LOCK TABLE ${this.spec.reset.map((t) => this.name(t.table)).join(', ')} IN EXCLUSIVE MODE`);
          const counts = await this.count(m);
          // Whole tables by TRUNCATE (no dead rows to vacuum, no time proportional to their size); it takes the lock
          // up to ACCESS EXCLUSIVE, so reports wait the moment it lasts.
          const whole = this.spec.reset.filter((t) => !t.consumers).map((t) => this.name(t.table));
          if (whole.length) await m.query(`TRUNCATE ${whole.join(', ')}`);
          for (const t of this.spec.reset.filter((x) => x.consumers)) {
            await m.query(`DELETE FROM ${this.name(t.table)} WHERE consumer = ANY($1::text[])`, [t.consumers]);
          }
          return counts;
        });
      } catch (e) {
        if (attempt >= ATTEMPTS || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      }
    }
  }

  private name(table: string): string {
    return `"${this.spec.schema}".${table}`;
  }

  private async count(m: EntityManager): Promise<ResetCount[]> {
    const out: ResetCount[] = [];
    for (const t of this.spec.reset) {
      const rows: { n: string }[] = t.consumers
        ? await m.query(`SELECT count(*) AS n FROM ${this.name(t.table)} WHERE consumer = ANY($1::text[])`, [t.consumers])
        : await m.query(`SELECT count(*) AS n FROM ${this.name(t.table)}`);
      out.push({
        table: `${this.spec.schema}.${t.table}`,
        rowsMatching: t.consumers ? `consumer IN (${t.consumers.join(', ')})` : '',
        rows: Number(rows[0].n),
      });
    }
    return out;
  }
}
