/**
 * The loop a relay runs between start() and stop(): a pass, then straight on while a backlog lasts, else a wait for
 * a kick (a commit that wrote rows to publish) or the poll interval; after a failed pass a backoff (100 ms doubling
 * to 5 s) that a kick does not cut short. Shared by OutboxRelay and TableRelay, which differ only in what a pass
 * does and in what they do when idle.
 */
export interface PollLoopOptions {
  /** One pass; resolves true when another should follow at once (a backlog). */
  pass(): Promise<boolean>;
  /** After a pass that left nothing behind (e.g. pruning); its failure counts as the pass's. */
  idle?(): Promise<void>;
  onFailure(error: unknown, failures: number): void;
  /** Poll interval when nothing wakes the loop (another replica's writes, a missed kick). */
  pollMs: number;
  /** After a kick or the poll, how long to let further commits gather before the pass (0: none). */
  lingerMs?: number;
}

/** A wait that a kick cuts short: sleep(ms) ends after `ms` (never, without it) or at the next wake(), whichever is first. */
export class Wakeup {
  private waiter?: () => void;

  get sleeping(): boolean {
    return this.waiter !== undefined;
  }

  sleep(ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = ms === undefined ? undefined : setTimeout(() => this.wake(), ms);
      this.waiter = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Ends the sleep in progress, if any. */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

export class PollLoop {
  private running = false;
  private loop?: Promise<void>;
  private readonly wakeup = new Wakeup();
  private pending = false;

  constructor(private readonly opts: PollLoopOptions) {}

  get active(): boolean {
    return this.running;
  }

  /** Between polls: everything committed before the last pass is published (specs wait on this, not on a sleep). */
  get waiting(): boolean {
    return this.wakeup.sleeping;
  }

  /** Starts the loop; false when it already runs. */
  start(): boolean {
    if (this.running) return false;
    this.running = true;
    this.loop = this.run();
    return true;
  }

  /** A commit wrote rows to publish: pass now instead of at the next poll. */
  kick(): void {
    this.pending = true;
    this.wakeup.wake();
  }

  /** Ends the loop after the pass in progress; false when it was not running. */
  async stop(): Promise<boolean> {
    if (!this.running) return false;
    this.running = false;
    this.wakeup.wake();
    await this.loop;
    return true;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        this.pending = false;
        const more = await this.opts.pass();
        failures = 0;
        if (more) continue;
        await this.opts.idle?.();
      } catch (e) {
        failures++;
        this.opts.onFailure(e, failures);
      }
      if (!this.running) break;
      // A kick during the pass: rows committed meanwhile, published without waiting for the poll.
      if (!this.pending || failures) {
        await this.wakeup.sleep(failures ? Math.min(5000, 100 * 2 ** failures) : this.opts.pollMs);
        if (!this.running) break;
      }
      if (this.opts.lingerMs) await new Promise((r) => setTimeout(r, this.opts.lingerMs));
    }
  }
}
