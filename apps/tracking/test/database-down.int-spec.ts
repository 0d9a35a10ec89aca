import { ManualClock } from '@trackly/kernel';
import { eventually, freePort, PostgresLine, testInfra } from '@trackly/testing';
import { startTrackingForTest, TrackingTestApp } from './tracking-test-app';

const BROWSER = {
  'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
  'accept-language': 'en-US,en;q=0.9',
};

/**
 * While Postgres is unreachable the click edge answers 503 with Retry-After and writes nothing, a cached link as well
 * as an unknown one (nothing is answered 302 that is not committed), in both write modes; once Postgres is back the
 * same links redirect again without a restart.
 */
describe.each([
  ['off', 'false'],
  ['on', 'true'],
])('click edge with group commit %s while Postgres is down (real Postgres behind a cuttable line, NATS, HTTP)', (_mode, groupCommit) => {
  jest.setTimeout(120_000);
  let t: TrackingTestApp;
  let line: PostgresLine;
  let codes: string[];

  beforeAll(async () => {
    const pg = new URL(testInfra().pgUrl);
    line = new PostgresLine({ host: pg.hostname, port: Number(pg.port || 5432) }, await freePort());
    await line.up();
    t = await startTrackingForTest({ TRACKING_GROUP_COMMIT: groupCommit, TRACKING_BOT_REPEAT_CODES: '0' }, new ManualClock(new Date()), (url) => line.urlThrough(url));
    await t.client.upsertCampaign({ campaignId: 'camp', name: 'Blast' });
    await t.client.upsertCreative({ creativeId: 'cr', name: 'Creative' });
    await t.client.upsertOffer({
      offerId: 'offer', name: 'Offer', destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
    });
    const { messages } = await t.client.registerMessages({
      messages: Array.from({ length: 2 }, (_, i) => ({
        messageId: `m-${i}`, contactId: `c-${i}`, phoneE164: '+15551231234', campaignId: 'camp', creativeId: 'cr', offerId: 'offer', sentAt: new Date(Date.now() - 3_600_000),
      })),
    });
    codes = messages.map((m) => m.shortCode);
  });

  afterAll(async () => {
    await line?.up();
    await t?.close();
    await line?.down();
  }, 60_000);

  const tap = async (code: string) => {
    const res = await fetch(`${t.base}/c/${code}`, { redirect: 'manual', headers: BROWSER });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), location: res.headers.get('location') };
  };
  const clickRows = async () => Number((await t.pg.query(`SELECT count(*) AS n FROM "tracking".clicks`)).rows[0].n);

  it('answers 503 + Retry-After and writes nothing while down, and redirects again once Postgres is back', async () => {
    const [cached, cold] = codes;
    expect((await tap(cached)).status).toBe(302); // the link is now in the cache
    expect(await clickRows()).toBe(1);

    await line.down();
    for (const code of [cached, cold]) {
      const answer = await tap(code);
      expect(answer).toEqual({ status: 503, retryAfter: '5', location: null });
    }
    await line.up();
    expect(await clickRows()).toBe(1);

    // The pool reconnects on its own: both links redirect again, each tap with its own committed row.
    await eventually(async () => (await tap(cached)).status === 302, 30_000, 200);
    expect((await tap(cold)).status).toBe(302);
    expect(await clickRows()).toBeGreaterThanOrEqual(3);
  });
});
