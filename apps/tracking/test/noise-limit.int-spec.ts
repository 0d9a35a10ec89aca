import { ManualClock } from '@trackly/kernel';
import { startTrackingForTest, TrackingTestApp } from './tracking-test-app';

const BURST = 10;
const BROWSER = {
  'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
  'accept-language': 'en-US,en;q=0.9',
};

/**
 * The noise limiter on the click edge: a client guessing codes gets 404s until its allowance is spent, then 429s,
 * while its own real links (the same address, a carrier NAT) still redirect and count. The clock is frozen: no
 * token comes back unless the test moves it, so statuses and counts are exact and nothing depends on timing.
 */
describe('click edge: noise limiter (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: TrackingTestApp;
  let pg: TrackingTestApp['pg'];
  let client: TrackingTestApp['client'];
  let base: string;
  let codes: string[];
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startTrackingForTest(
      {
        TRACKING_NOISE_RATE_PER_S: '1',
        TRACKING_NOISE_BURST: String(BURST),
        TRACKING_BOT_REPEAT_CODES: '0',
        // Requests come through "our load balancer" (the test, on loopback) when they carry X-Forwarded-For.
        TRACKING_TRUSTED_PROXIES: '127.0.0.1, ::1',
      },
      clock,
    );
    ({ client, pg, base } = t);
    await client.upsertCampaign({ campaignId: 'camp-1', name: 'Blast' });
    await client.upsertCreative({ creativeId: 'cr-1', name: 'Creative' });
    await client.upsertOffer({
      offerId: 'summer',
      name: 'Summer',
      destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
      clickWindowDays: 30,
    });
    const { messages } = await client.registerMessages({
      messages: Array.from({ length: 20 }, (_, i) => ({
        messageId: `msg-${i}`, contactId: `c-${i}`, phoneE164: '+15551231234', campaignId: 'camp-1', creativeId: 'cr-1', offerId: 'summer', sentAt: new Date('2026-11-01T00:00:00Z'),
      })),
    });
    codes = messages.map((m) => m.shortCode);
  });

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  const hit = async (path: string, from?: string) => {
    const res = await fetch(`${base}${path}`, { redirect: 'manual', headers: { ...BROWSER, ...(from ? { 'x-forwarded-for': from } : {}) } });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), location: res.headers.get('location') };
  };

  async function noiseRejected(): Promise<number> {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^edge_noise_rejected_total\{edge="tracking"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  it('200 guessed codes from one client: 404 until its allowance is spent, then 429; its 40 real clicks in between all redirect and count', async () => {
    const rejectedBefore = await noiseRejected();
    const statuses: Record<string, number> = {};
    const real: number[] = [];
    for (let round = 0; round < 4; round++) {
      // 50 concurrent guesses: well-formed unknown codes and malformed ones.
      const guesses = await Promise.all(
        Array.from({ length: 50 }, (_, i) => hit(i % 2 ? `/c/Guess${round}x${String(i).padStart(6, '0')}` : `/c/bad-${round}-${i}`)),
      );
      for (const g of guesses) {
        statuses[g.status] = (statuses[g.status] ?? 0) + 1;
        expect(g.location).toBeNull();
      }
      for (let i = 0; i < 10; i++) {
        const r = await hit(`/c/${codes[(round * 10 + i) % codes.length]}`);
        real.push(r.status);
        expect(r.location).toMatch(/^https:\/\/shop\.example\/land\?cid=[0-9A-Za-z]{22}$/);
      }
    }
    expect(statuses).toEqual({ 404: BURST, 429: 200 - BURST });
    expect(real).toEqual(Array(40).fill(302));
    const { rows: [r] } = await pg.query(
      `SELECT (SELECT count(*)::int FROM "tracking".clicks) AS clicks, (SELECT count(*)::int FROM "tracking".clicks WHERE click_class = 'HUMAN') AS counted`,
    );
    // Every real click recorded and counted as HUMAN; none of the guesses left a row.
    expect(r).toEqual({ clicks: 40, counted: 40 });
    expect((await noiseRejected()) - rejectedBefore).toBe(200 - BURST);
  });

  it('answers 429 with Retry-After, and gives one more guess per second of the limiter clock', async () => {
    const limited = await hit('/c/Unknown0000001');
    expect(limited).toMatchObject({ status: 429, retryAfter: '1', location: null });
    clock.advance(2_000);
    const after = await Promise.all(Array.from({ length: 4 }, (_, i) => hit(`/c/Unknown000000${i + 2}`)));
    expect(after.map((a) => a.status).sort()).toEqual([404, 404, 429, 429]);
  });

  it('behind the trusted proxy, limits the client the proxy names, not the proxy (forged entries on the left ignored)', async () => {
    const storm = await Promise.all(Array.from({ length: BURST + 5 }, (_, i) => hit(`/c/Proxied${String(i).padStart(6, '0')}`, `198.51.100.${i}, 203.0.113.5`)));
    expect(storm.filter((r) => r.status === 404)).toHaveLength(BURST);
    expect(storm.filter((r) => r.status === 429)).toHaveLength(5);
    // Another client behind the same proxy is not limited, and the click is stored with its own address.
    expect((await hit('/c/Proxied999999', '203.0.113.6')).status).toBe(404);
    const real = await hit(`/c/${codes[0]}`, '203.0.113.5');
    expect(real.status).toBe(302);
    const clickId = new URL(real.location!).searchParams.get('cid');
    const { rows: [click] } = await pg.query(`SELECT ip FROM "tracking".clicks WHERE click_id = $1`, [clickId]);
    expect(click.ip).toBe('203.0.113.5');
  });

  it('never limits real links, however many a client opens', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => hit(`/c/${codes[i % codes.length]}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(60).fill(302));
  });
});
