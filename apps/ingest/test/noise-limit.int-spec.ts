import { ManualClock } from '@trackly/kernel';
import { IngestTestApp, partnerRequest, registerPartners, startIngestForTest } from './ingest-test-app';

const BURST = 20;

/**
 * The noise limiter on the postback edge: a storm of bad tokens, unknown partners and malformed partner ids from one
 * address is answered 429 once that address has used its allowance, while valid postbacks, from the same address or
 * another, are all stored. The clock is frozen, so no token comes back unless the test moves it: statuses and
 * counts only, no timing.
 */
describe('postback edge: noise limiter (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
  let tokens: Record<string, string>;

  beforeAll(async () => {
    t = await startIngestForTest(
      { INGEST_TRUSTED_PROXY_HEADER: 'x-forwarded-for', INGEST_NOISE_RATE_PER_S: '1', INGEST_NOISE_BURST: String(BURST) },
      clock,
    );
    tokens = await registerPartners(t.client, [partnerRequest('good'), partnerRequest('other'), partnerRequest('walled', { allowedSources: ['192.0.2.0/24'] })]);
  });

  afterAll(async () => {
    await t?.close();
  });

  async function get(path: string, from?: string) {
    const res = await fetch(`${t.base}${path}`, { headers: from ? { 'x-forwarded-for': from } : {} });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
  }

  async function noiseRejected(): Promise<number> {
    const text = await (await fetch(`${t.base}/metrics`)).text();
    const m = /^edge_noise_rejected_total\{edge="ingest"\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  }

  const conversions = async (partnerId: string) =>
    (await t.pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = $1`, [partnerId])).rows[0].n as number;
  const archived = async () => (await t.pg.query(`SELECT count(*)::int AS n FROM "ingest".postback_requests`)).rows[0].n as number;

  it('500 bad tokens from one address: 401 until its allowance is spent, then 429; 50 valid postbacks in between are all stored', async () => {
    const rejectedBefore = await noiseRejected();
    const archivedBefore = await archived();
    const statuses: Record<string, number> = {};
    const valid: number[] = [];
    let retryAfter: string | null = null;
    // Ten rounds of 50 concurrent bad-token requests, each round followed by valid postbacks from the same address
    // (partner good) and from another address (partner other).
    for (let round = 0; round < 10; round++) {
      const storm = await Promise.all(
        Array.from({ length: 50 }, (_, i) => get(`/postbacks/good?conversion_id=bad-${round}-${i}&payout=1&token=forged-${i}`, '203.0.113.66')),
      );
      for (const r of storm) {
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status === 429) retryAfter = r.retryAfter;
      }
      for (let i = 0; i < 3; i++) {
        valid.push((await get(`/postbacks/good?conversion_id=ok-${round}-${i}&payout=1.50&token=${tokens.good}`, '203.0.113.66')).status);
      }
      for (let i = 0; i < 2; i++) {
        valid.push((await get(`/postbacks/other?conversion_id=ok-${round}-${i}&payout=2&token=${tokens.other}`, '198.51.100.20')).status);
      }
    }
    expect(statuses).toEqual({ 401: BURST, 429: 500 - BURST });
    expect(valid).toEqual(Array(50).fill(200));
    expect(await conversions('good')).toBe(30);
    expect(await conversions('other')).toBe(20);
    // Rate 1/s and an empty bucket: the next refusal is possible in a second.
    expect(retryAfter).toBe('1');
    expect((await noiseRejected()) - rejectedBefore).toBe(500 - BURST);
    // The 429s were answered before the archive: only the 20 refusals and the 50 postbacks were written.
    expect((await archived()) - archivedBefore).toBe(BURST + 50);
  });

  it('limits by address: another address still gets its own 401s; a limited address gets one more refusal per second', async () => {
    expect((await get('/postbacks/good?conversion_id=x&payout=1&token=forged', '203.0.113.77')).status).toBe(401);
    expect((await get('/postbacks/good?conversion_id=x&payout=1&token=forged', '203.0.113.66')).status).toBe(429);
    clock.advance(3_000);
    const after = await Promise.all(Array.from({ length: 5 }, () => get('/postbacks/good?conversion_id=x&payout=1&token=forged', '203.0.113.66')));
    expect(after.map((r) => r.status).sort()).toEqual([401, 401, 401, 429, 429]);
  });

  it('unknown partners, malformed partner ids and allow-list refusals spend the same allowance', async () => {
    const from = '203.0.113.88';
    const answers: number[] = [];
    for (let i = 0; i < BURST + 10; i++) {
      const path = [`/postbacks/nobody-${i}?conversion_id=x&payout=1&token=t`, `/postbacks/${encodeURIComponent(`bad id ${i}`)}?payout=1`, `/postbacks/walled?conversion_id=w-${i}&payout=1&token=${tokens.walled}`][i % 3];
      answers.push((await get(path, from)).status);
    }
    expect(answers.slice(0, BURST).every((s) => [400, 403, 404].includes(s))).toBe(true);
    expect(answers.slice(BURST).filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    // The walled partner's own token gets through the limiter (then the allow-list answers as always)...
    expect((await get(`/postbacks/walled?conversion_id=w-x&payout=1&token=${tokens.walled}`, from)).status).toBe(403);
    // ...and from an allowed address it is stored.
    expect((await get(`/postbacks/walled?conversion_id=w-ok&payout=1&token=${tokens.walled}`, '192.0.2.10')).status).toBe(200);
  });

  it('groups an IPv6 /64: rotating addresses inside it does not reset the allowance', async () => {
    const answers: number[] = [];
    for (let i = 1; i <= BURST + 5; i++) answers.push((await get('/postbacks/good?conversion_id=x&payout=1&token=forged', `2001:db8:77:1::${i.toString(16)}`)).status);
    expect(answers.filter((s) => s === 401)).toHaveLength(BURST);
    expect(answers.filter((s) => s === 429)).toHaveLength(5);
    expect((await get('/postbacks/good?conversion_id=x&payout=1&token=forged', '2001:db8:77:2::1')).status).toBe(401);
  });
});
