import { Client, type QueryResult } from 'pg';
import { isDatabaseUnavailable } from '@trackly/database';
import { createTestDatabase, freePort, TestDatabase } from '@trackly/testing';
import { ClickConnections } from '../src/clicks/click-connections';

/** The edge's own connections (group commit off) against real Postgres: bounded, FIFO, failing fast when down. */
describe('ClickConnections (real Postgres)', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase('clickconns', [], async () => undefined);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    await admin.query(`CREATE TABLE taps (n int PRIMARY KEY, backend int NOT NULL)`);
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  const run = (c: ClickConnections, n: number) =>
    new Promise<QueryResult>((resolve, reject) =>
      c.query(
        { name: 'insert-tap', text: `INSERT INTO taps (n, backend) VALUES ($1, pg_backend_pid()) RETURNING n`, values: [n] },
        (err, r) => (err ? reject(err) : resolve(r as QueryResult)),
      ),
    );

  it('runs every statement, at most `size` at once on as many connections, each answered with its own result', async () => {
    const c = new ClickConnections({ connectionString: db.url, application_name: 'clickconns-spec' }, 3);
    const pending = Array.from({ length: 200 }, (_, i) => run(c, i));
    // Two waiters at once (the service's drain, then the writer's close) both see the last statement finish.
    let answered = 0;
    for (const p of pending) void p.then(() => answered++);
    const idle = Promise.all([c.whenIdle(), c.whenIdle()]).then(() => answered);
    const results = await Promise.all(pending);
    expect(await idle).toBe(200);
    expect(results.map((r) => r.rows[0].n)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const { rows } = await admin.query(`SELECT count(DISTINCT backend)::int AS backends, count(*)::int AS n FROM taps`);
    expect(rows[0]).toEqual({ backends: 3, n: 200 });
    await c.end();
    const open = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'clickconns-spec'`);
    expect(open.rows[0].n).toBe(0);
  });

  it("fails a statement's own error, and the next statement runs (on a fresh connection)", async () => {
    const c = new ClickConnections({ connectionString: db.url }, 1);
    await expect(run(c, 0)).rejects.toThrow(/duplicate key/); // row 0 exists from the test above
    await expect(run(c, 1000)).resolves.toBeDefined();
    await c.end();
  });

  it('fails the waiting statements at once when no connection can be made, as unavailable (the edge answers 503)', async () => {
    const c = new ClickConnections({ connectionString: `postgres://postgres@127.0.0.1:${await freePort()}/none`, connectionTimeoutMillis: 2000 }, 2);
    const outcomes = await Promise.allSettled([run(c, 2000), run(c, 2001), run(c, 2002)]);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect(isDatabaseUnavailable((o as PromiseRejectedResult).reason)).toBe(true);
    }
    await c.end();
  });

  it('replaces a connection that broke: the next statement runs on a new one', async () => {
    const c = new ClickConnections({ connectionString: db.url, application_name: 'clickconns-broken' }, 1);
    const first = (await run(c, 3000)).rows[0].n;
    expect(first).toBe(3000);
    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'clickconns-broken'`);
    // The statement that finds it broken fails (the edge answers 503); the one after it runs on a fresh connection.
    await run(c, 3001).catch((e) => expect(isDatabaseUnavailable(e)).toBe(true));
    await expect(run(c, 3002)).resolves.toBeDefined();
    const { rows } = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'clickconns-broken'`);
    expect(rows[0].n).toBe(1);
    await c.end();
  });
});
