import { Client } from 'pg';
import { PromiseClient } from '@trackly/grpc';
import { DateBasis, ReportGrouping, ReportingServiceService } from '@trackly/contracts/reporting/v1/reporting_service';
import { ReportingTestApp } from './reporting-test-app';
import { rebuildRollupsSql } from '../src/projection/rollup-rebuild';

/**
 * The product guide's examples, exact to the micro, at their real volumes: facts are loaded in bulk (the
 * benchmark's path) and the rollups rebuilt from them, then read over gRPC.
 * Offer "Summer Clearance": 50,000 sends, 6,000 clicks, 240 conversions of $24 = $5,760 -> EPC $0.96.
 * Of those, creative "Summer Sale 20%": 10,000 sends, 1,200 clicks, 48 conversions = $1,152 -> $0.1152 per send.
 */
const GUIDE_SEED_SQL = [
  `INSERT INTO "reporting".names (kind, id, name, updated_at) VALUES
     ('creative', 'cr-summer', 'Summer Sale 20%', now()), ('creative', 'cr-other', 'Free shipping', now()),
     ('offer', 'off-summer', 'Summer Clearance', now()), ('campaign', 'camp-1', 'Weekly blast', now())`,
  // Sends spread over May 2026 (UTC): message i on day i % 30, minute i % 1440.
  `INSERT INTO "reporting".messages (message_id, contact_id, phone_masked, campaign_id, creative_id, offer_id, sent_at)
   SELECT 'm' || i, 'c' || i, '+1***' || lpad((i % 10000)::text, 4, '0'), 'camp-1',
          CASE WHEN i <= 10000 THEN 'cr-summer' ELSE 'cr-other' END, 'off-summer',
          timestamptz '2026-05-01 00:00:00+00' + (i % 30) * interval '1 day' + (i % 1440) * interval '1 minute'
   FROM generate_series(1, 50000) i`,
  // People's first taps: messages 1..1200 (the creative) and 10001..14800; plus 300 link previews that never count.
  `INSERT INTO "reporting".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
   SELECT 'k' || m.message_id, m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id, m.sent_at + interval '5 minutes', true, 'HUMAN'
   FROM "reporting".messages m, LATERAL (SELECT substr(m.message_id, 2)::int AS i) x
   WHERE x.i <= 1200 OR x.i BETWEEN 10001 AND 14800`,
  // "Subsequent clicks are tracked but not counted as new engagements": messages 1..100 are tapped twice more (taps,
  // not clicks), one of them before the send's first tap is stored, as tracking may flag it (first_click_on_message).
  `INSERT INTO "reporting".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
   SELECT 'k' || n || m.message_id, m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id, m.sent_at + n * interval '10 minutes', n = 2, 'HUMAN'
   FROM "reporting".messages m CROSS JOIN generate_series(1, 2) n WHERE substr(m.message_id, 2)::int <= 100`,
  `INSERT INTO "reporting".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, first_click_on_message, click_class)
   SELECT 'p' || m.message_id, m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id, m.sent_at + interval '1 minute', false, 'PREVIEW'
   FROM "reporting".messages m WHERE substr(m.message_id, 2)::int <= 300`,
  // 48 + 192 approved conversions of $24.00, an hour after the send.
  `INSERT INTO "reporting".credited_conversions (partner_id, conversion_id, message_id, click_id, contact_id, offer_id, campaign_id, creative_id,
     payout_micros, currency, status, occurred_at, type)
   SELECT 'tune', 'o' || m.message_id, m.message_id, 'k' || m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id,
          24000000, 'USD', 'approved', m.sent_at + interval '1 hour', 'CLICK_THROUGH'
   FROM "reporting".messages m, LATERAL (SELECT substr(m.message_id, 2)::int AS i) x
   WHERE x.i <= 48 OR x.i BETWEEN 10001 AND 10192`,
];

describe("reporting: the product guide's examples, exact", () => {
  let t: ReportingTestApp;
  let client: PromiseClient<typeof ReportingServiceService>;

  beforeAll(async () => {
    // The guide's facts, written before the app starts (no events), and the rollups built from them.
    t = await ReportingTestApp.start({
      seed: async (url) => {
        const pg = new Client({ connectionString: url });
        await pg.connect();
        try {
          for (const sql of [...GUIDE_SEED_SQL, ...rebuildRollupsSql()]) await pg.query(sql);
        } finally {
          await pg.end();
        }
      },
    });
    client = t.client;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const may = (groupBy: ReportGrouping, timeZone = 'UTC', dateBasis = DateBasis.DATE_BASIS_CONVERSION) =>
    client.getPerformanceReport({ groupBy, fromDate: '2026-05-01', toDate: '2026-05-31', timeZone, thenBy: 0, dateBasis, filter: undefined, includeTest: false, reportingCurrency: '' });

  it('shows the creative: 10,000 sends, 1,200 clicks, 48 conversions, $1,152, $0.1152 per send, CTR 12%, CVR 4%', async () => {
    const r = await may(ReportGrouping.REPORT_GROUPING_CREATIVE);
    expect(r.rows.find((x) => x.key === 'cr-summer')).toEqual({
      key: 'cr-summer', name: 'Summer Sale 20%', key2: '', name2: '',
      sends: '10000', clicks: '1200', uniqueClicks: '1200', taps: '1400', conversions: '48', reversedConversions: '0',
      ctrPpm: '120000', cvrPpm: '40000', activityNotApplicable: false,
      revenue: [{
        revenue: { currencyCode: 'USD', amountMicros: '1152000000' },
        pendingRevenue: { currencyCode: 'USD', amountMicros: '0' },
        reversed: { currencyCode: 'USD', amountMicros: '0' },
        revenuePerSend: { currencyCode: 'USD', amountMicros: '115200' },
        epc: { currencyCode: 'USD', amountMicros: '960000' },
        conversions: '48', reversedConversions: '0',
        clickRevenue: { currencyCode: 'USD', amountMicros: '1152000000' },
        viewThroughRevenue: { currencyCode: 'USD', amountMicros: '0' }, viewThroughConversions: '0',
        cappedRevenue: { currencyCode: 'USD', amountMicros: '0' }, cappedConversions: '0',
        heldRevenue: { currencyCode: 'USD', amountMicros: '0' }, heldConversions: '0',
        testRevenue: { currencyCode: 'USD', amountMicros: '0' }, testConversions: '0',
      }],
    });
  });

  it('shows the offer: 50,000 sends, 6,000 clicks, 240 conversions, $5,760, EPC $0.96', async () => {
    const r = await may(ReportGrouping.REPORT_GROUPING_OFFER);
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0]).toMatchObject({
      key: 'off-summer', name: 'Summer Clearance', sends: '50000', clicks: '6000', taps: '6200', conversions: '240', ctrPpm: '120000', cvrPpm: '40000',
      revenue: [{ revenue: { amountMicros: '5760000000' }, epc: { amountMicros: '960000' }, revenuePerSend: { amountMicros: '115200' } }],
    });
  });

  it('gives the same month totals in any zone and on either date basis (nothing falls outside May)', async () => {
    // The seed keeps every event at least a day inside May, so no zone moves any of it out of the range.
    for (const [zone, basis] of [['America/Los_Angeles', DateBasis.DATE_BASIS_CONVERSION], ['Asia/Kathmandu', DateBasis.DATE_BASIS_SEND]] as const) {
      const r = await client.getPerformanceReport({
        groupBy: ReportGrouping.REPORT_GROUPING_CAMPAIGN, fromDate: '2026-04-30', toDate: '2026-06-01', timeZone: zone, thenBy: 0, dateBasis: basis, filter: undefined, includeTest: false, reportingCurrency: '',
      });
      expect(r.total).toMatchObject({ sends: '50000', clicks: '6000', conversions: '240', revenue: [{ revenue: { amountMicros: '5760000000' } }] });
    }
  });

  it('splits days by local midnight: the date rows of a month add up to the month', async () => {
    const r = await may(ReportGrouping.REPORT_GROUPING_DATE, 'Asia/Kolkata');
    const sum = (f: (x: (typeof r.rows)[number]) => string) => r.rows.reduce((s, x) => s + BigInt(f(x)), 0n);
    expect(sum((x) => x.sends)).toBe(BigInt(r.total!.sends));
    expect(sum((x) => x.clicks)).toBe(BigInt(r.total!.clicks));
    // Kolkata's 1 May is [30 Apr 18:30, 1 May 18:30) UTC: the 1,292 UTC-1-May sends before 18:30 (i % 30 = 0,
    // i % 1440 < 1110); its 2 May starts with the 374 later ones.
    expect(r.rows[0]).toMatchObject({ key: '2026-05-01', sends: '1292' });
    const utc = await may(ReportGrouping.REPORT_GROUPING_DATE);
    expect(utc.rows[0]).toMatchObject({ key: '2026-05-01', sends: String(1292 + 374) });
  });
});
