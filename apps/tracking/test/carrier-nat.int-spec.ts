import { ManualClock } from '@trackly/kernel';
import { startTrackingForTest, TrackingTestApp } from './tracking-test-app';

/**
 * Issue 16, item 10, through the real click edge: a blast's taps arrive through a load balancer (X-Forwarded-For)
 * from 5 carrier NAT addresses, 1,000 phones with 3 user agents and one Accept-Language, at human pace within a
 * minute of the send. They must stay people (≥ 99% HUMAN), while a scanner hiding among them (same address, same
 * user agent) that fetches each link as its SMS is delivered is still a BOT. The clock is the test's: each tap is
 * made at its own time, in time order.
 */
const UAS = [
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36',
];
const ADDRESSES = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '100.64.0.4', '100.64.0.5'];
const PHONES = 1000;
const SCANNED = 30;
const SENT = new Date('2026-11-10T12:00:00Z').getTime();

describe('click edge: a blast behind carrier NAT (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(180_000);
  let t: TrackingTestApp;
  const clock = new ManualClock(new Date(SENT - 60_000));

  beforeAll(async () => {
    t = await startTrackingForTest({ TRACKING_TRUSTED_PROXIES: '127.0.0.1, ::1', TRACKING_GROUP_COMMIT: 'false' }, clock);
    await t.client.upsertCampaign({ campaignId: 'blast', name: 'Blast' });
    await t.client.upsertCreative({ creativeId: 'cr', name: 'Creative' });
    await t.client.upsertOffer({
      offerId: 'offer', name: 'Offer', destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
    });
  });

  afterAll(async () => {
    await t?.close();
  }, 30_000);

  it('keeps ≥ 99% of 1,000 phones behind 5 addresses and 3 user agents HUMAN, and still catches the scanner among them', async () => {
    // The phones' messages all go out at SENT; the scanner's carrier delivers one every 1.5 s from SENT on.
    const phones = Array.from({ length: PHONES }, (_, i) => ({ messageId: `p-${i}`, sentAt: new Date(SENT) }));
    const scanned = Array.from({ length: SCANNED }, (_, i) => ({ messageId: `s-${i}`, sentAt: new Date(SENT + i * 1_500) }));
    const { messages } = await t.client.registerMessages({
      messages: [...phones, ...scanned].map((m) => ({ ...m, contactId: `c-${m.messageId}`, phoneE164: '+15551230000', campaignId: 'blast', creativeId: 'cr', offerId: 'offer' })),
    });
    const codeOf = new Map(messages.map((m) => [m.messageId, m.shortCode]));

    let seed = 20261110;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    interface Tap { who: 'phone' | 'scanner'; messageId: string; at: number; ip: string; ua: string; language: string }
    const taps: Tap[] = [
      // People: 2-60 s after the send (nobody reads and taps an SMS faster), one language setting for all.
      ...phones.map((p): Tap => ({
        who: 'phone', messageId: p.messageId, at: SENT + 2_000 + Math.floor(rand() * 58_000),
        ip: ADDRESSES[Math.floor(rand() * ADDRESSES.length)], ua: UAS[Math.floor(rand() * UAS.length)], language: 'en-US,en;q=0.9',
      })),
      // The scanner: behind the first address with the first user agent, 1-3 s after each of its messages is sent.
      ...scanned.map((s, i): Tap => ({ who: 'scanner', messageId: s.messageId, at: s.sentAt.getTime() + 1_000 + (i % 3) * 1_000, ip: ADDRESSES[0], ua: UAS[0], language: 'en-US' })),
    ].sort((a, b) => a.at - b.at);

    const clickOf = new Map<string, string>();
    for (const tap of taps) {
      clock.set(new Date(tap.at));
      const res = await fetch(`${t.base}/c/${codeOf.get(tap.messageId)}`, {
        redirect: 'manual',
        headers: { 'user-agent': tap.ua, 'accept-language': tap.language, 'x-forwarded-for': `198.51.100.77, ${tap.ip}` },
      });
      expect(res.status).toBe(302);
      clickOf.set(tap.messageId, new URL(res.headers.get('location')!).searchParams.get('cid')!);
    }

    const { rows } = await t.pg.query<{ click_id: string; click_class: string; classification_reason: string; ip: string }>(
      `SELECT click_id, click_class, classification_reason, ip FROM "tracking".clicks WHERE click_id = ANY($1)`,
      [[...clickOf.values()]],
    );
    const byClick = new Map(rows.map((r) => [r.click_id, r]));
    const phoneRows = phones.map((p) => byClick.get(clickOf.get(p.messageId)!)!);
    expect(new Set(phoneRows.map((r) => r.ip))).toEqual(new Set(ADDRESSES)); // the carrier addresses, not the proxy's
    const human = phoneRows.filter((r) => r.click_class === 'HUMAN').length;
    expect(human / PHONES).toBeGreaterThanOrEqual(0.99);

    const scannerRows = scanned.map((s) => byClick.get(clickOf.get(s.messageId)!)!);
    expect(scannerRows.slice(19).map((r) => r.click_class)).toEqual(Array(SCANNED - 19).fill('BOT'));
    expect(scannerRows[SCANNED - 1].classification_reason).toMatch(/different links within 5\.0 s of their sends/);
  });
});
