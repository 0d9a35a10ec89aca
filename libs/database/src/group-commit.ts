import type { DataSource, EntityManager } from 'typeorm';
import { Batcher, BatcherOptions } from '@trackly/platform';

const DEADLOCK = '40P01';
const codeOf = (e: unknown): string | undefined =>
  (e as { code?: string; driverError?: { code?: string } })?.code ?? (e as { driverError?: { code?: string } })?.driverError?.code;

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

interface Unit {
  work: (m: EntityManager) => Promise<unknown>;
}

/**
 * Group commit for units of work that each need transaction semantics but not their own commit (the fsync, and the
 * round trips of BEGIN/COMMIT, are the expensive part): concurrent units are queued and run one after another inside
 * ONE transaction, then committed together. Every caller's promise settles only after the shared COMMIT, so a caller
 * that awaits run() before answering knows its writes are durable.
 *
 * Optimistic: no savepoint per unit (two more round trips each). When a unit throws, the whole transaction is rolled
 * back, that unit's caller gets its error, and the other units run again in a fresh transaction, so a failing unit
 * never leaves partial writes and never takes the others down. Units must therefore be pure database work (they are
 * re-run from scratch after a rollback). A deadlock victim is re-run too, at most three times. With group commit off
 * (`enabled: false`) each unit is its own transaction, which is the reference behaviour.
 */
export class GroupCommit {
  private readonly batcher?: Batcher<Unit, Settled>;

  constructor(
    private readonly ds: DataSource,
    opts: BatcherOptions & { enabled: boolean },
  ) {
    if (opts.enabled) this.batcher = new Batcher((units) => this.flush(units), opts);
  }

  async run<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    if (!this.batcher) return this.ds.transaction(work);
    const settled = await this.batcher.submit({ work });
    if (!settled.ok) throw settled.error;
    return settled.value as T;
  }

  /** Units already queued are committed before the database closes. */
  drain(): Promise<void> {
    return this.batcher?.drain() ?? Promise.resolve();
  }

  private async flush(units: Unit[]): Promise<Settled[]> {
    const out: Settled[] = new Array(units.length);
    const deadlocks = new Array<number>(units.length).fill(0);
    let pending = units.map((_, i) => i);
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      while (pending.length) {
        await runner.startTransaction();
        const values: unknown[] = [];
        let failed: { at: number; error: unknown } | undefined;
        for (const i of pending) {
          try {
            values.push(await units[i].work(runner.manager));
          } catch (error) {
            failed = { at: i, error };
            break;
          }
        }
        if (!failed) {
          await runner.commitTransaction();
          pending.forEach((i, k) => (out[i] = { ok: true, value: values[k] }));
          break;
        }
        await runner.rollbackTransaction();
        const { at, error } = failed;
        if (codeOf(error) === DEADLOCK && ++deadlocks[at] < 3) continue;
        out[at] = { ok: false, error };
        pending = pending.filter((i) => i !== at);
      }
      return out;
    } catch (e) {
      // BEGIN, COMMIT or ROLLBACK failed (connection lost): nobody in the batch may think it committed.
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw e;
    } finally {
      await runner.release();
    }
  }
}
