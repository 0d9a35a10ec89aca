/**
 * Group commit: concurrent submissions are queued and written by one flush (one transaction, multi-row inserts).
 * Each submitter's promise settles only when the flush holding its item has committed (or failed), so a caller
 * that awaits it, e.g. before answering a 302, knows its row is durable.
 *
 * A flush starts when the queue reaches maxBatch, or windowMs after the first item arrived, or at once when a
 * previous flush finishes with items waiting (they have waited long enough). At most maxInFlight flushes run
 * together, which bounds the connections used and lets the next batch fill while one commits.
 */
export interface BatcherOptions {
  windowMs: number;
  maxBatch: number;
  maxInFlight: number;
}

export type FlushFn<T, R> = (items: T[]) => Promise<R[]>;

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Batcher<T, R> {
  private queue: Waiting<T, R>[] = [];
  private timer?: NodeJS.Timeout;
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];
  /** Sizes of the flushes so far (bounded), for tests and diagnostics. */
  readonly stats = { flushes: 0, items: 0, largest: 0 };

  constructor(
    private readonly flush: FlushFn<T, R>,
    private readonly opts: BatcherOptions,
  ) {
    if (opts.maxBatch < 1 || opts.maxInFlight < 1 || opts.windowMs < 0) throw new Error('invalid batcher options');
  }

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.opts.maxBatch) this.startFlushes();
      else this.timer ??= setTimeout(() => this.onTimer(), this.opts.windowMs);
    });
  }

  /** Resolves once everything submitted so far has been flushed (used on shutdown). */
  async drain(): Promise<void> {
    while (this.queue.length || this.inFlight) {
      if (this.queue.length) this.startFlushes();
      await new Promise<void>((r) => this.idle.push(r));
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    this.startFlushes();
  }

  private startFlushes(): void {
    while (this.queue.length && this.inFlight < this.opts.maxInFlight) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      const batch = this.queue.splice(0, this.opts.maxBatch);
      this.inFlight++;
      this.stats.flushes++;
      this.stats.items += batch.length;
      this.stats.largest = Math.max(this.stats.largest, batch.length);
      void this.run(batch);
    }
    // Items still waiting (every slot busy) are taken when a flush finishes.
  }

  private async run(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (e) {
      for (const w of batch) w.reject(e);
    } finally {
      this.inFlight--;
      if (this.queue.length) this.startFlushes();
      // drain() re-checks after each finished flush.
      for (const r of this.idle.splice(0)) r();
    }
  }
}
