import { ManualClock } from '@trackly/kernel';
import { eventually, freePort, PostgresLine, testInfra } from '@trackly/testing';
import { IngestTestApp, partnerRequest, startIngestForTest } from './ingest-test-app';

/**
 * While Postgres is unreachable the postback edge answers 503 with Retry-After and stores nothing (nothing is answered
 * 200 that is not committed), in both write modes; once Postgres is back the same postbacks are stored, and repeats
 * found duplicate, without a restart: the edge's connections (the app's pool and the intake's pipelined one) come back
 * on their own.
 */
describe.each([
  ['off', 'false'],
  ['on', 'true'],
])('postback edge with group commit %s while Postgres is down (real Postgres behind a cuttable line, NATS, HTTP)', (_mode, groupCommit) => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  let line: PostgresLine;
  let token: string;

  beforeAll(async () => {
    const pg = new URL(testInfra().pgUrl);
    line = new PostgresLine({ host: pg.hostname, port: Number(pg.port || 5432) }, await freePort());
    await line.up();
    t = await startIngestForTest({ INGEST_GROUP_COMMIT: groupCommit }, new ManualClock(new Date()), (url) => line.urlThrough(url));
    token = (await t.client.upsertPartner(partnerRequest('down'))).token;
  });

  afterAll(async () => {
    await line?.up();
    await t?.close();
    await line?.down();
  }, 60_000);

  const postback = async (conversionId: string) => {
    const res = await fetch(`${t.base}/postbacks/down?token=${token}&conversion_id=${conversionId}&payout=1.50&currency=USD`);
    const body = res.headers.get('content-type')?.includes('json') ? ((await res.json()) as { status?: string }) : {};
    return { status: res.status, retryAfter: res.headers.get('retry-after'), outcome: body.status };
  };
  const stored = async () =>
    (await t.pg.query(`SELECT conversion_id FROM "ingest".conversions WHERE partner_id = 'down' ORDER BY conversion_id`)).rows.map((r) => r.conversion_id);

  it('answers 503 + Retry-After and stores nothing while down, then stores and dedupes again once Postgres is back', async () => {
    expect(await postback('before')).toMatchObject({ status: 200, outcome: 'stored' });

    await line.down();
    for (const id of ['during', 'before']) {
      const answer = await postback(id);
      expect(answer.status).toBe(503);
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    await line.up();
    expect(await stored()).toEqual(['before']);

    // Both pools reconnect on their own: the refused postback is stored now, the repeat is a duplicate.
    await eventually(async () => (await postback('during')).status === 200, 30_000, 200);
    expect(await postback('during')).toMatchObject({ status: 200, outcome: 'duplicate' });
    expect(await postback('before')).toMatchObject({ status: 200, outcome: 'duplicate' });
    expect(await stored()).toEqual(['before', 'during']);
  });
});
