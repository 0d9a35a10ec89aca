import { Client, type ClientConfig, type QueryConfig, type QueryResult } from 'pg';

type Done = (err: Error | undefined, result?: QueryResult) => void;

interface Job {
  query: QueryConfig;
  done: Done;
}

/**
 * The edge's own connections for the statement of each tap with group commit off (one autocommitted INSERT, or the
 * read-and-insert of a tap on a link not cached): at most `size` pg clients, each running one statement at a time,
 * and one FIFO of the taps waiting for one. It is what pg-pool does for `pool.query`, without what that costs per
 * statement on the hot path: a promise (two, with pg's own), a timer per wait (connectionTimeoutMillis) and the
 * checkout and release calls. Statements are named, so each is parsed once per connection.
 *
 * A client whose connection breaks is dropped (its statement fails with pg's error, which the edge answers 503) and
 * replaced when the next tap needs one; a failed connect fails the waiting taps when no other client is left to
 * serve them, as a pool whose connect timed out does.
 */
export class ClickConnections {
  private readonly idle: Client[] = [];
  private readonly waiting: Job[] = [];
  private head = 0;
  private open = 0;
  private busy = 0;
  private ended = false;
  /** Who waits for no statement to be running or waiting (whenIdle). */
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly settings: ClientConfig,
    private readonly size: number,
  ) {}

  /** Runs the statement on a free connection (or the next one freed), then calls `done` with its result. */
  query(query: QueryConfig, done: Done): void {
    if (this.ended) return done(new Error('Client was closed and is not queryable'));
    const client = this.idle.pop();
    if (client) return this.run(client, query, done);
    this.waiting.push({ query, done });
    if (this.open < this.size) this.connect();
  }

  /** Resolves once no statement is running or waiting. */
  async whenIdle(): Promise<void> {
    while (this.busy || this.waiting.length > this.head) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Once no statement is running or waiting, closes the connections. */
  async end(): Promise<void> {
    await this.whenIdle();
    this.ended = true;
    const clients = this.idle.splice(0);
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }

  private run(client: Client, query: QueryConfig, done: Done): void {
    this.busy++;
    client.query(query, (err: Error | undefined, result: QueryResult) => {
      // The next waiting tap goes out on this connection before anything else runs (as pg-pool's release does). After
      // an error the connection is replaced, as pg-pool does: a server that ends a session (57P01) says so in an error
      // before the socket closes, and a statement sent in between would fail too.
      if (err) this.drop(client);
      else this.release(client);
      // Counted as running until its caller has its answer, so whenIdle() resolves after the last caller's callback.
      this.busy--;
      done(err ?? undefined, result);
      this.checkIdle();
    });
  }

  private release(client: Client): void {
    const job = this.next();
    if (job) return this.run(client, job.query, job.done);
    this.idle.push(client);
    this.checkIdle();
  }

  private next(): Job | undefined {
    if (this.head >= this.waiting.length) return undefined;
    const job = this.waiting[this.head];
    this.waiting[this.head++] = undefined as unknown as Job;
    // Compact now and then instead of shift() per job (which copies the array).
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    return job;
  }

  private connect(): void {
    this.open++;
    const client = new Client(this.settings);
    // A connection that breaks between statements: dropped here, so no tap is given it.
    client.on('error', () => this.drop(client));
    client.connect().then(
      () => {
        if (DROPPED.has(client)) return;
        if (this.ended) return void this.forget(client);
        this.release(client);
      },
      (e: Error) => {
        this.forget(client);
        // Nothing left to serve the waiting taps: they fail now (503), as pg-pool fails a connect that failed or timed
        // out; the next tap tries a new connection.
        if (this.open === 0) for (let job = this.next(); job; job = this.next()) job.done(e);
        this.checkIdle();
      },
    );
  }

  /** A client whose connection broke: forgotten, and replaced at once if taps are waiting. */
  private drop(client: Client): void {
    if (this.forget(client) && !this.ended && this.waiting.length > this.head && this.open < this.size) this.connect();
    this.checkIdle();
  }

  /** Forgets a client (once, whichever noticed its failure first) and closes it; false if it was already. */
  private forget(client: Client): boolean {
    if (DROPPED.has(client)) return false;
    DROPPED.add(client);
    this.open--;
    const i = this.idle.indexOf(client);
    if (i >= 0) this.idle.splice(i, 1);
    client.end().catch(() => undefined);
    return true;
  }

  private checkIdle(): void {
    if (!this.idleWaiters.length || this.busy || this.head < this.waiting.length) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

const DROPPED = new WeakSet<Client>();
