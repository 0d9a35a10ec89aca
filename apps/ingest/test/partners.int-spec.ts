import { createHash } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { Events, Streams } from '@trackly/messaging';
import { eventually, testInfra, outboxDrained } from '@trackly/testing';
import { CarriedConversion, carriedConversions, conversionsPublished, notAsRelayed } from './conversions-published';
import { IngestServiceService, UpsertPartnerRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { Conversion, PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionAdjusted, PartnerTokenRotated, PartnerUpserted, PostbacksReplayed } from '@trackly/contracts/ingest/v1/ingest_events';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { IngestTestApp, partnerRequest, PostbackAnswer, registerPartners, startIngestForTest } from './ingest-test-app';

const MAX_QUERY = 1024;
const PUBLIC_URL = 'https://in.trackly.example';

/**
 * The partner registry and what it guards: tokens, allow-lists behind a trusted proxy header, TUNE and Everflow
 * postbacks, adjustments and reversals with their events, limits, concurrency and counters.
 */
describe('ingest partners and the trusted edge (real Postgres, NATS, gRPC, HTTP)', () => {
  let t: IngestTestApp;
  let client: PromiseClient<typeof IngestServiceService>;
  let pg: Client;
  let nc: NatsConnection;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));
  const tokens: Record<string, string> = {};

  const partner = (over: Partial<UpsertPartnerRequest>): UpsertPartnerRequest => partnerRequest('p', over);

  beforeAll(async () => {
    t = await startIngestForTest(
      {
        INGEST_MAX_QUERY_BYTES: String(MAX_QUERY),
        INGEST_PUBLIC_URL: PUBLIC_URL,
        INGEST_TRUSTED_PROXY_HEADER: 'X-Forwarded-For',
        INGEST_TRUSTED_PROXIES: '10.0.0.0/8, fd00::/8',
      },
      clock,
    );
    ({ client, pg } = t);
    nc = await connect({ servers: testInfra().natsUrl });
    Object.assign(tokens, await registerPartners(client, [
      partner({ partnerId: 'tune-net', kind: PartnerKind.PARTNER_KIND_TUNE, clickIdParam: 'aff_sub2', defaultCurrency: 'eur' }),
      partner({ partnerId: 'ef-net', kind: PartnerKind.PARTNER_KIND_EVERFLOW }),
      partner({ partnerId: 'walled', allowedSources: ['192.0.2.0-255', '2001:db8::/32'] }),
      partner({ partnerId: 'racer' }),
    ]));
  });

  afterAll(async () => {
    await nc?.close();
    await t?.close();
  });

  async function http(path: string, init: RequestInit = {}) {
    const res = await fetch(`${t.base}${path}`, init);
    return { status: res.status, body: ((await res.json().catch(() => undefined)) ?? {}) as PostbackAnswer };
  }

  /** GET /postbacks/{partner}?query&token=<its token>. */
  const get = (partnerId: string, query: string, init: RequestInit = {}) => http(`/postbacks/${partnerId}?${query}&token=${tokens[partnerId]}`, init);
  const reverse = (partnerId: string, query: string) => http(`/postbacks/${partnerId}/reversal?${query}&token=${tokens[partnerId]}`, { method: 'POST' });

  async function archived(partnerId: string) {
    const { rows } = await pg.query(
      `SELECT query, outcome, reason, reason_code, source_ip, conversion_ref FROM "ingest".postback_requests WHERE partner_id = $1 ORDER BY id`,
      [partnerId],
    );
    return rows;
  }

  /**
   * The conversion events on the ingest stream: received, every conversion whichever event carries it (alone in a
   * ConversionReceived or one of a ConversionsReceived run, flattened in stream order; carried says how); adjusted,
   * the ConversionAdjusted events.
   */
  async function events(): Promise<{ received: Conversion[]; carried: CarriedConversion[]; adjusted: ConversionAdjusted[] }> {
    const js = jetstream(nc);
    const c = await js.consumers.get(`${t.prefix.toUpperCase()}_${Streams.ingest.name}`);
    const out = { received: [] as Conversion[], carried: [] as CarriedConversion[], adjusted: [] as ConversionAdjusted[] };
    const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
    for await (const m of batch) {
      const conversions = carriedConversions(t.prefix, m);
      if (conversions) out.carried.push(...conversions);
      else if (m.subject === `${t.prefix}.${Events.ConversionAdjusted.subject}`) out.adjusted.push(ConversionAdjusted.decode(m.data));
      // Refusals, partner changes and replays share the stream (issue 18); this reads the conversions only.
    }
    out.received = out.carried.map((r) => r.conversion);
    return out;
  }

  describe('registry over gRPC', () => {
    it('registers with a token shown once and stored only as its SHA-256; updates keep the token', async () => {
      const created = await client.upsertPartner(partner({ partnerId: 'reg-1', name: 'Registry One', kind: PartnerKind.PARTNER_KIND_EVERFLOW, clickIdParam: 'sub3', allowedSources: [' 198.51.100.0/24 '] }));
      expect(created).toMatchObject({
        created: true,
        token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        partner: {
          partnerId: 'reg-1',
          name: 'Registry One',
          kind: PartnerKind.PARTNER_KIND_EVERFLOW,
          clickIdParam: 'sub3',
          defaultCurrency: 'USD',
          allowedSources: ['198.51.100.0/24'],
          tokenIssuedAt: new Date('2026-11-02T10:00:00Z'),
        },
      });
      const { rows } = await pg.query(`SELECT token_sha256, row_to_json(p)::text AS everything FROM "ingest".partners p WHERE partner_id = 'reg-1'`);
      expect(rows[0].token_sha256).toEqual(createHash('sha256').update(created.token).digest());
      expect(rows[0].everything).not.toContain(created.token);

      clock.advance(1000);
      const updated = await client.upsertPartner(partner({ partnerId: 'reg-1', kind: PartnerKind.PARTNER_KIND_EVERFLOW, defaultCurrency: 'gbp' }));
      expect(updated).toMatchObject({ created: false, token: '', partner: { name: 'reg-1', clickIdParam: '', defaultCurrency: 'GBP', allowedSources: [] } });
      expect(updated.partner!.tokenIssuedAt).toEqual(created.partner!.tokenIssuedAt);
      expect(updated.partner!.updatedAt).toEqual(new Date('2026-11-02T10:00:01Z'));
      expect((await client.getPartner({ partnerId: 'reg-1' })).partner).toEqual(updated.partner);
      clock.set('2026-11-02T10:00:00Z');
    });

    it('lists by id, optionally by kind', async () => {
      const all = await client.listPartners({ kind: PartnerKind.PARTNER_KIND_UNSPECIFIED });
      expect(all.partners.map((p) => p.partnerId)).toEqual(['ef-net', 'racer', 'reg-1', 'tune-net', 'walled']);
      const everflow = await client.listPartners({ kind: PartnerKind.PARTNER_KIND_EVERFLOW });
      expect(everflow.partners.map((p) => p.partnerId)).toEqual(['ef-net', 'reg-1']);
      expect(all.nextPageToken).toBe('');
    });

    it('pages by id with an opaque token bound to the kind filter', async () => {
      const seen: string[] = [];
      let pageToken: string | undefined;
      do {
        const page = await client.listPartners({ kind: PartnerKind.PARTNER_KIND_UNSPECIFIED, pageSize: 2, pageToken });
        expect(page.partners.length).toBeLessThanOrEqual(2);
        seen.push(...page.partners.map((p) => p.partnerId));
        pageToken = page.nextPageToken || undefined;
      } while (pageToken);
      expect(seen).toEqual(['ef-net', 'racer', 'reg-1', 'tune-net', 'walled']);
      const first = await client.listPartners({ kind: PartnerKind.PARTNER_KIND_UNSPECIFIED, pageSize: 2 });
      const other = await client.listPartners({ kind: PartnerKind.PARTNER_KIND_TUNE, pageToken: first.nextPageToken }).catch((e) => e);
      expect(other.details).toContain('page_token');
      expect((await client.listPartners({ kind: PartnerKind.PARTNER_KIND_UNSPECIFIED, pageSize: 501 }).catch((e) => e)).details).toContain('page_size');
    });

    it('announces every registration, change and rotation through the outbox, never with a secret', async () => {
      const created = await client.upsertPartner(partner({ partnerId: 'evt-1', kind: PartnerKind.PARTNER_KIND_TUNE }));
      await client.upsertPartner(partner({ partnerId: 'evt-1', kind: PartnerKind.PARTNER_KIND_TUNE, name: 'Renamed' }));
      const rotated = await client.rotatePartnerToken({ partnerId: 'evt-1' });
      const { rows } = await pg.query(`SELECT subject, payload FROM "ingest".outbox WHERE subject IN ($1, $2) ORDER BY seq`, [
        Events.PartnerUpserted.subject, Events.PartnerTokenRotated.subject,
      ]);
      const mine = rows
        .map((r) => (r.subject === Events.PartnerUpserted.subject ? PartnerUpserted.decode(r.payload) : PartnerTokenRotated.decode(r.payload)))
        .filter((e) => ('partner' in e ? e.partner?.partnerId : e.partnerId) === 'evt-1');
      expect(mine).toEqual([
        expect.objectContaining({ created: true, partner: expect.objectContaining({ name: 'evt-1' }) }),
        expect.objectContaining({ created: false, partner: expect.objectContaining({ name: 'Renamed' }) }),
        { partnerId: 'evt-1', tokenIssuedAt: rotated.partner!.tokenIssuedAt },
      ]);
      const bytes = Buffer.concat(rows.map((r) => r.payload)).toString('latin1');
      for (const secret of [created.token, rotated.token]) expect(bytes).not.toContain(secret);
    });

    it('refuses bad settings field by field, and unknown partners', async () => {
      const bad = await client
        .upsertPartner(partner({ partnerId: 'x y', kind: PartnerKind.PARTNER_KIND_TUNE, clickIdParam: 'sub1', allowedSources: ['192.0.2.1/24'] }))
        .catch((e) => e);
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/partner_id/);
      expect(bad.details).toMatch(/click_id_param must be aff_click_id/);
      expect(bad.details).toMatch(/allowed_sources\[0\] has host bits set: did you mean 192.0.2.0\/24\?/);
      expect((await client.getPartner({ partnerId: 'nobody' }).catch((e) => e)).code).toBe(status.NOT_FOUND);
      expect((await client.rotatePartnerToken({ partnerId: 'nobody' }).catch((e) => e)).code).toBe(status.NOT_FOUND);
      expect((await client.getPartner({ partnerId: '' }).catch((e) => e)).code).toBe(status.INVALID_ARGUMENT);
    });

    it('rotates a token: the old one stops working at once', async () => {
      const old = tokens['racer'];
      const rotated = await client.rotatePartnerToken({ partnerId: 'racer' });
      expect(rotated.token).not.toBe(old);
      expect(rotated.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      tokens['racer'] = rotated.token;
      expect(await http(`/postbacks/racer?conversion_id=rot-1&payout=1&token=${old}`)).toMatchObject({ status: 401, body: { error: 'UNAUTHENTICATED' } });
      expect(await get('racer', 'conversion_id=rot-1&payout=1')).toMatchObject({ status: 200, body: { status: 'stored' } });
    });
  });

  describe('postback templates', () => {
    it('hands out the URL to paste, with a placeholder or the checked token', async () => {
      const placeholder = await client.getPostbackTemplate({ partnerId: 'tune-net', token: '' });
      expect(placeholder).toEqual({
        url: `${PUBLIC_URL}/postbacks/tune-net?token=REPLACE_WITH_YOUR_TOKEN&click_id={aff_sub2}&transaction_id={transaction_id}&payout={payout}&currency={currency}&offer_id={offer_id}&goal_id={goal_id}&datetime={datetime}`,
        clickIdMacro: '{aff_sub2}',
        tokenIncluded: false,
      });
      const withToken = await client.getPostbackTemplate({ partnerId: 'ef-net', token: tokens['ef-net'] });
      expect(withToken).toEqual({
        url: `${PUBLIC_URL}/postbacks/ef-net?token=${tokens['ef-net']}&click_id={sub1}&transaction_id={transaction_id}&conversion_id={conversion_id}&event_id={event_id}&payout={payout}&currency={currency}&sale_amount={sale_amount}`,
        clickIdMacro: '{sub1}',
        tokenIncluded: true,
      });
      expect((await client.getPostbackTemplate({ partnerId: 'ef-net', token: 'guess' }).catch((e) => e)).code).toBe(status.INVALID_ARGUMENT);
      expect((await client.getPostbackTemplate({ partnerId: 'nobody', token: '' }).catch((e) => e)).code).toBe(status.NOT_FOUND);
    });

    it('the TUNE template, filled in as TUNE fills it, stores the conversion (datetime in UTC, goal in the key)', async () => {
      const { url } = await client.getPostbackTemplate({ partnerId: 'tune-net', token: tokens['tune-net'] });
      const macros: Record<string, string> = {
        '{aff_sub2}': 'clk-tune-1',
        '{transaction_id}': '102a8f3e6b5c4d7e9f10',
        '{payout}': '12.50',
        '{currency}': '',
        '{offer_id}': '1001',
        '{goal_id}': '4',
        '{datetime}': '2026-11-01 09:15:42',
      };
      const filled = Object.entries(macros).reduce((u, [m, v]) => u.replace(m, encodeURIComponent(v)), url.replace(PUBLIC_URL, ''));
      const res = await http(`${filled}&aff_sub=ad-7&sale_amount=49.99&ran=123`);
      expect(res).toMatchObject({ status: 200, body: { status: 'stored', conversion_id: '102a8f3e6b5c4d7e9f10:4' } });
      const { conversion } = await client.getConversion({ partnerId: 'tune-net', conversionId: '102a8f3e6b5c4d7e9f10:4' });
      expect(conversion).toMatchObject({ clickId: 'clk-tune-1', payout: { currencyCode: 'EUR', amountMicros: '12500000' }, status: ConversionStatus.CONVERSION_STATUS_APPROVED });
      expect(conversion!.occurredAt).toEqual(new Date('2026-11-01T09:15:42Z'));
      const { rows } = await pg.query(`SELECT transaction_id, event_id, sale_amount_micros, sub_ids, raw FROM "ingest".conversions WHERE id = $1`, [res.body.id]);
      expect(rows[0]).toMatchObject({ transaction_id: '102a8f3e6b5c4d7e9f10', event_id: '4', sale_amount_micros: '49990000', sub_ids: { aff_sub: 'ad-7' } });
      expect(rows[0].raw).not.toHaveProperty('token');
    });

    it("reads TUNE's {datetime} in the partner's time zone once it is set; refuses a zone that is not IANA", async () => {
      const base = { partnerId: 'tune-ny', kind: PartnerKind.PARTNER_KIND_TUNE, clickIdParam: 'aff_sub2' };
      const created = await client.upsertPartner(partner({ ...base, timeZone: 'America/New_York' }));
      expect(created.partner).toMatchObject({ timeZone: 'America/New_York' });
      const bad = await client.upsertPartner(partner({ ...base, timeZone: 'Mars/Olympus' })).catch((e) => e);
      expect(bad.details).toContain('time_zone must be an IANA time zone');
      const res = await http(`/postbacks/tune-ny?token=${created.token}&click_id=k&transaction_id=ny-1&payout=1&datetime=2026-11-01%2009%3A15%3A42`);
      expect(res).toMatchObject({ status: 200, body: { status: 'stored' } });
      const { conversion } = await client.getConversion({ partnerId: 'tune-ny', conversionId: 'ny-1' });
      expect(conversion!.occurredAt).toEqual(new Date('2026-11-01T14:15:42Z'));
    });
  });

  describe('the edge gate', () => {
    it('answers 404 for an unknown partner, 401 without or with a wrong token; archived with reason codes, token redacted', async () => {
      expect(await http('/postbacks/stranger?conversion_id=c&payout=1&token=t')).toMatchObject({
        status: 404,
        body: { error: 'NOT_FOUND', message: 'partner "stranger" is not registered' },
      });
      expect(await http('/postbacks/ef-net?conversion_id=gate-1&payout=1')).toMatchObject({ status: 401, body: { error: 'UNAUTHENTICATED', message: 'token is required' } });
      expect(await http('/postbacks/ef-net?conversion_id=gate-1&payout=1&token=')).toMatchObject({ status: 401, body: { message: 'token is required' } });
      expect(await http('/postbacks/ef-net?conversion_id=gate-1&payout=1&token=wrong')).toMatchObject({ status: 401, body: { message: 'token is not valid' } });
      const twice = `/postbacks/ef-net?conversion_id=gate-1&payout=1&token=${tokens['ef-net']}&token=${tokens['ef-net']}`;
      expect(await http(twice)).toMatchObject({ status: 401, body: { message: 'token is not valid' } });
      expect(await archived('stranger')).toEqual([expect.objectContaining({ outcome: 'not_found', reason_code: 'UNKNOWN_PARTNER', query: 'conversion_id=c&payout=1&token=REDACTED' })]);
      expect((await archived('ef-net')).map((r) => [r.outcome, r.reason_code])).toEqual([
        ['unauthorized', 'MISSING_TOKEN'],
        ['unauthorized', 'MISSING_TOKEN'],
        ['unauthorized', 'BAD_TOKEN'],
        ['unauthorized', 'BAD_TOKEN'],
      ]);
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".postback_requests WHERE query LIKE $1`, [`%${tokens['ef-net']}%`]);
      expect(rows[0].n).toBe(0);
      await expect(client.getConversion({ partnerId: 'ef-net', conversionId: 'gate-1' })).rejects.toMatchObject({ code: status.NOT_FOUND });
    });

    it.each([
      ['192.0.2.77', 200, '192.0.2.77'],
      ['198.51.100.1', 403, '198.51.100.1'],
      // A client can only forge entries to the left of what our proxy appended.
      ['192.0.2.77, 203.0.113.5', 403, '203.0.113.5'],
      // Our own proxies (10.0.0.0/8) are skipped from the right.
      ['203.0.113.5, 192.0.2.78, 10.1.2.3', 200, '192.0.2.78'],
      ['[2001:db8::9]:443, fd00::1', 200, '2001:db8::9'],
    ])('X-Forwarded-For %s -> %s (client %s)', async (forwarded, expected, client) => {
      const id = `wall-${client}-${expected}`.replace(/[^A-Za-z0-9-]/g, '_');
      const res = await get('walled', `conversion_id=${id}&payout=1`, { headers: { 'x-forwarded-for': forwarded } });
      expect(res.status).toBe(expected);
      if (expected === 403) expect(res.body).toMatchObject({ error: 'PERMISSION_DENIED', message: `source address ${client} is not in the partner's allow-list` });
      const rows = await archived('walled');
      expect(rows[rows.length - 1]).toMatchObject({
        source_ip: client,
        outcome: expected === 200 ? 'stored' : 'forbidden',
        reason_code: expected === 200 ? null : 'SOURCE_NOT_ALLOWED',
      });
    });

    it('checks the socket address when the proxy header is absent', async () => {
      expect(await get('walled', 'conversion_id=w-direct&payout=1')).toMatchObject({ status: 403 });
      const rows = await archived('walled');
      expect(rows[rows.length - 1]).toMatchObject({ source_ip: '127.0.0.1', outcome: 'forbidden' });
    });

    it('answers 414 for a query string over the limit, archived', async () => {
      const long = `conversion_id=long-1&payout=1&note=${'x'.repeat(MAX_QUERY)}`;
      expect(await get('ef-net', long)).toMatchObject({ status: 414, body: { error: 'URI_TOO_LONG', message: `query string exceeds ${MAX_QUERY} bytes` } });
      const rows = await archived('ef-net');
      expect(rows[rows.length - 1]).toMatchObject({ outcome: 'invalid', reason_code: 'QUERY_TOO_LONG', query: `${long}&token=REDACTED` });
      await expect(client.getConversion({ partnerId: 'ef-net', conversionId: 'long-1' })).rejects.toMatchObject({ code: status.NOT_FOUND });
    });
  });

  describe('adjustments and reversals (Everflow)', () => {
    const base = 'click_id=clk-ef&transaction_id=tx-ef-1&conversion_id=cv-ef-1&event_id=0&payout=24.99&currency=USD&sale_amount=99.95';

    it('stores, ignores an identical repeat, then applies status and payout changes with ConversionAdjusted', async () => {
      const first = await get('ef-net', `${base}&status=pending`);
      expect(first).toMatchObject({ status: 200, body: { status: 'stored', conversion_id: 'cv-ef-1' } });
      expect(await get('ef-net', `${base}&status=pending`)).toMatchObject({ status: 200, body: { status: 'duplicate', id: first.body.id } });
      clock.advance(60_000);
      expect(await get('ef-net', `${base}&status=approved`)).toMatchObject({ status: 200, body: { status: 'adjusted', id: first.body.id } });
      expect(await get('ef-net', `${base.replace('payout=24.99', 'payout=20.00')}&status=approved`)).toMatchObject({ status: 200, body: { status: 'adjusted' } });
      expect(await get('ef-net', `${base.replace('payout=24.99', 'payout=20')}&status=approved`)).toMatchObject({ body: { status: 'duplicate' } });

      const { conversion } = await client.getConversion({ partnerId: 'ef-net', conversionId: 'cv-ef-1' });
      expect(conversion).toMatchObject({ status: ConversionStatus.CONVERSION_STATUS_APPROVED, payout: { currencyCode: 'USD', amountMicros: '20000000' } });

      const { adjusted } = await eventually(async () => {
        const e = await events();
        return e.adjusted.filter((a) => a.conversion!.conversionId === 'cv-ef-1').length >= 2 ? e : undefined;
      });
      const mine = adjusted.filter((a) => a.conversion!.conversionId === 'cv-ef-1');
      expect(mine).toEqual([
        expect.objectContaining({
          cause: 'postback',
          previousStatus: ConversionStatus.CONVERSION_STATUS_PENDING,
          previousPayout: { currencyCode: 'USD', amountMicros: '24990000' },
          conversion: expect.objectContaining({ id: first.body.id, status: ConversionStatus.CONVERSION_STATUS_APPROVED }),
        }),
        expect.objectContaining({
          cause: 'postback',
          previousStatus: ConversionStatus.CONVERSION_STATUS_APPROVED,
          previousPayout: { currencyCode: 'USD', amountMicros: '24990000' },
          conversion: expect.objectContaining({ payout: { currencyCode: 'USD', amountMicros: '20000000' } }),
        }),
      ]);
      const { rows } = await pg.query(`SELECT id::text, cause, previous_status, status FROM "ingest".conversion_adjustments WHERE conversion_ref = $1 ORDER BY adjusted_at, previous_payout_micros DESC`, [first.body.id]);
      expect(rows.map((r) => r.id)).toEqual(mine.map((a) => a.adjustmentId));
      expect(rows.map((r) => [r.previous_status, r.status])).toEqual([['PENDING', 'APPROVED'], ['APPROVED', 'APPROVED']]);
      const outcomes = (await archived('ef-net')).filter((r) => r.conversion_ref === first.body.id).map((r) => [r.outcome, r.reason_code]);
      expect(outcomes).toEqual([['stored', null], ['duplicate', 'SAME_CONTENT'], ['adjusted', 'STATUS_OR_PAYOUT_CHANGED'], ['adjusted', 'STATUS_OR_PAYOUT_CHANGED'], ['duplicate', 'SAME_CONTENT']]);
    });

    it('reverses by conversion_id once; a later postback does not bring it back', async () => {
      const res = await reverse('ef-net', 'conversion_id=cv-ef-1');
      expect(res).toMatchObject({ status: 200, body: { status: 'reversed', conversion_id: 'cv-ef-1' } });
      expect(await reverse('ef-net', 'conversion_id=cv-ef-1')).toMatchObject({ status: 200, body: { status: 'duplicate' } });
      expect(await get('ef-net', `${base}&status=approved`)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
      const { conversion } = await client.getConversion({ partnerId: 'ef-net', conversionId: 'cv-ef-1' });
      expect(conversion).toMatchObject({ status: ConversionStatus.CONVERSION_STATUS_REVERSED, payout: { amountMicros: '20000000' } });
      const reversal = await eventually(async () => (await events()).adjusted.find((a) => a.cause === 'reversal' && a.conversion!.conversionId === 'cv-ef-1'));
      expect(reversal).toMatchObject({ previousStatus: ConversionStatus.CONVERSION_STATUS_APPROVED, conversion: { status: ConversionStatus.CONVERSION_STATUS_REVERSED } });
    });

    it('reverses one event by transaction_id + event_id; refuses a bare transaction id; 404 for an unknown conversion', async () => {
      const tx = 'click_id=clk-ef2&transaction_id=tx-ef-2&payout=5&currency=USD';
      expect(await get('ef-net', `${tx}&event_id=0`)).toMatchObject({ body: { status: 'stored', conversion_id: 'tx-ef-2' } });
      expect(await get('ef-net', `${tx}&event_id=12`)).toMatchObject({ body: { status: 'stored', conversion_id: 'tx-ef-2:12' } });

      expect(await reverse('ef-net', 'transaction_id=tx-ef-2')).toMatchObject({ status: 400, body: { error: 'INVALID_ARGUMENT', fields: { event_id: expect.stringContaining('every event') } } });
      expect(await reverse('ef-net', 'transaction_id=tx-ef-2&event_id=12')).toMatchObject({ status: 200, body: { status: 'reversed', conversion_id: 'tx-ef-2:12' } });
      expect((await client.getConversion({ partnerId: 'ef-net', conversionId: 'tx-ef-2' })).conversion!.status).toBe(ConversionStatus.CONVERSION_STATUS_APPROVED);
      expect(await reverse('ef-net', 'transaction_id=tx-ef-2&event_id=0')).toMatchObject({ status: 200, body: { status: 'reversed', conversion_id: 'tx-ef-2' } });
      expect(await reverse('ef-net', 'conversion_id=never-seen')).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
      expect(await http('/postbacks/ef-net/reversal?conversion_id=tx-ef-2', { method: 'POST' })).toMatchObject({ status: 401 });
      const tail = (await archived('ef-net')).slice(-6).map((r) => [r.outcome, r.reason_code]);
      expect(tail).toEqual([
        ['stored', null],
        ['invalid', 'INVALID_FIELDS'],
        ['reversed', null],
        ['reversed', null],
        ['not_found', 'UNKNOWN_CONVERSION'],
        ['unauthorized', 'MISSING_TOKEN'],
      ]);
    });
  });

  describe('bad input', () => {
    const json = (body: string | Buffer): RequestInit => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const ok = 'click_id=k&conversion_id=fz-1&payout=1';
    const cases: [string, string, RequestInit | undefined, number, string][] = [
      ['no token', 'NO_TOKEN', undefined, 401, 'MISSING_TOKEN'],
      ['a wrong token', 'BAD_TOKEN', undefined, 401, 'BAD_TOKEN'],
      ['no dedupe key', 'click_id=k&payout=1', undefined, 400, 'INVALID_FIELDS'],
      ['an ambiguous payout', 'conversion_id=fz-1&payout=1%2C000', undefined, 400, 'INVALID_FIELDS'],
      ['a dollar payout from a partner paid in another currency', 'conversion_id=fz-1&payout=%245&currency=EUR', undefined, 400, 'INVALID_FIELDS'],
      ['NaN', 'conversion_id=fz-1&payout=NaN', undefined, 400, 'INVALID_FIELDS'],
      ['a negative payout', 'conversion_id=fz-1&payout=-1', undefined, 400, 'INVALID_FIELDS'],
      ['an exponent', 'conversion_id=fz-1&payout=1e3', undefined, 400, 'INVALID_FIELDS'],
      ['7 decimals', 'conversion_id=fz-1&payout=1.1234567', undefined, 400, 'INVALID_FIELDS'],
      ['an absurd amount', 'conversion_id=fz-1&payout=99999999999999', undefined, 400, 'INVALID_FIELDS'],
      ['hex', 'conversion_id=fz-1&payout=0x10', undefined, 400, 'INVALID_FIELDS'],
      ['a 2-letter currency', `${ok}&currency=US`, undefined, 400, 'INVALID_FIELDS'],
      ['an unknown status', `${ok}&status=maybe`, undefined, 400, 'INVALID_FIELDS'],
      ['a local time', `${ok}&occurred_at=2026-11-02T10:00:00`, undefined, 400, 'INVALID_FIELDS'],
      ['a time 2 days ahead', `${ok}&occurred_at=2026-11-04T10:00:00Z`, undefined, 400, 'INVALID_FIELDS'],
      ['an unfilled macro', 'conversion_id={conversion_id}&payout=1', undefined, 400, 'INVALID_FIELDS'],
      ['a repeated click id', `${ok}&click_id=k2`, undefined, 400, 'INVALID_FIELDS'],
      ['a control character', 'conversion_id=fz%01&payout=1', undefined, 400, 'INVALID_FIELDS'],
      ['an overlong key', `conversion_id=${'k'.repeat(257)}&payout=1`, undefined, 400, 'INVALID_FIELDS'],
      ['a nested JSON value', '', json('{"conversion_id":"fz-1","payout":{"amount":1}}'), 400, 'UNREADABLE_BODY'],
      ['broken JSON', '', json('{"conversion_id":'), 400, 'UNREADABLE_BODY'],
      ['a JSON array', '', json('[1,2]'), 400, 'UNREADABLE_BODY'],
      ['invalid UTF-8', '', json(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d])), 400, 'UNREADABLE_BODY'],
      ['a text body', '', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: ok }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['a long query', `${ok}&pad=${'p'.repeat(MAX_QUERY)}`, undefined, 414, 'QUERY_TOO_LONG'],
    ];

    it.each(cases)('%s: answered %#', async (_name, query, init, expected, reasonCode) => {
      tokens['fuzz'] ??= (await client.upsertPartner(partner({ partnerId: 'fuzz' }))).token;
      const token = query === 'NO_TOKEN' ? '' : `&token=${query === 'BAD_TOKEN' ? 'x' : tokens['fuzz']}`;
      const q = query === 'NO_TOKEN' || query === 'BAD_TOKEN' ? ok : query;
      const res = await http(`/postbacks/fuzz?${q}${token}`, init);
      expect(res.status).toBe(expected);
      expect(res.body.error).toEqual(expect.any(String));
      const rows = await archived('fuzz');
      expect(rows[rows.length - 1]).toMatchObject({ reason_code: reasonCode, conversion_ref: null });
    });

    it('stored none of them', async () => {
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = 'fuzz'`);
      expect(rows[0].n).toBe(0);
      expect(await archived('fuzz')).toHaveLength(cases.length);
    });
  });

  describe('concurrency', () => {
    it('the same postback fired 50 times in parallel: one conversion, carried once on the stream, 49 duplicates', async () => {
      const query = 'click_id=k-race&conversion_id=race-50&payout=3.10';
      const answers = await Promise.all(Array.from({ length: 50 }, () => get('racer', query)));
      expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
      expect(answers.filter((a) => a.body.status === 'stored')).toHaveLength(1);
      expect(answers.filter((a) => a.body.status === 'duplicate')).toHaveLength(49);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = 'racer' AND conversion_id = 'race-50'`);
      expect(rows[0].n).toBe(1);
      await eventually(async () => (await events()).received.some((c) => c.conversionId === 'race-50'));
      // A stray second event would be an unpublished outbox row or conversion row until published.
      await outboxDrained(t.db.url, 'ingest');
      await conversionsPublished(t.db.url);
      const all = await events();
      expect(all.received.filter((c) => c.conversionId === 'race-50')).toHaveLength(1);
      expect(notAsRelayed(all.carried)).toEqual([]);
      expect(all.adjusted.filter((a) => a.conversion!.conversionId === 'race-50')).toHaveLength(0);
    });
  });

  describe('counters', () => {
    it('counts what each partner sent became, refusals by reason', async () => {
      const { partners } = await client.getPartnerCounters({ partnerId: '', since: undefined });
      const ef = partners.find((p) => p.partnerId === 'ef-net')!;
      expect(ef).toMatchObject({ stored: '3', adjusted: '2', reversed: '3', errors: '0' });
      expect(ef.rejectedByReason).toEqual({ MISSING_TOKEN: '3', BAD_TOKEN: '2', QUERY_TOO_LONG: '1', INVALID_FIELDS: '1', UNKNOWN_CONVERSION: '1' });
      expect(partners.find((p) => p.partnerId === 'racer')).toMatchObject({ received: '52', stored: '2', duplicates: '49', rejectedByReason: { BAD_TOKEN: '1' } });
      expect(partners.find((p) => p.partnerId === 'stranger')).toMatchObject({ received: '1', rejectedByReason: { UNKNOWN_PARTNER: '1' } });
      const one = await client.getPartnerCounters({ partnerId: 'walled', since: new Date('2026-11-02T10:00:00Z') });
      expect(one.partners).toEqual([expect.objectContaining({ partnerId: 'walled', stored: '3', rejectedByReason: { SOURCE_NOT_ALLOWED: '3' } })]);
      const later = await client.getPartnerCounters({ partnerId: 'walled', since: new Date('2026-11-03T00:00:00Z') });
      expect(later.partners).toEqual([]);
    });
  });

  describe('partner read model', () => {
    it('GetPartner shows settings, allow-list, template with a placeholder, counters, last postback and tests; never a token', async () => {
      const r = await client.getPartner({ partnerId: 'walled' });
      expect(r.partner?.allowedSources.length).toBeGreaterThan(0);
      expect(r.template?.url).toContain('token=REPLACE_WITH_YOUR_TOKEN');
      expect(r.template?.tokenIncluded).toBe(false);
      const { rows: [a] } = await pg.query(
        `SELECT count(*)::text AS n, max(received_at) AS last FROM "ingest".postback_requests WHERE partner_id = 'walled' AND replay_of IS NULL`,
      );
      expect(r.counters).toMatchObject({ partnerId: 'walled', received: a.n });
      expect(r.lastPostbackAt).toEqual(a.last);
      expect(r.testConversions).toBe('0');
      expect(JSON.stringify(r)).not.toContain(tokens['walled']);
    });
  });

  describe('replay', () => {
    const window = { receivedFrom: new Date('2026-11-05T00:00:00Z'), receivedTo: new Date('2026-11-06T00:00:00Z') };
    const tuneShaped = (tx: string) => `aff_click_id=clk-${tx}&transaction_id=${tx}&payout=7.25&goal_id=0&datetime=2026-11-04+23%3A59%3A00`;

    it('re-reads refused requests after a mapping and token fix: dry run first, then for real, then harmlessly again', async () => {
      clock.set('2026-11-05T08:00:00Z');
      tokens['fixme'] = (await client.upsertPartner(partner({ partnerId: 'fixme', kind: PartnerKind.PARTNER_KIND_GENERIC }))).token;
      // Registered as generic by mistake: TUNE's offsetless datetime and transaction key are refused or misread.
      expect(await get('fixme', tuneShaped('tx-r1'))).toMatchObject({ status: 400, body: { fields: { datetime: expect.stringContaining('UTC offset') } } });
      expect(await get('fixme', tuneShaped('tx-r2'))).toMatchObject({ status: 400 });
      expect(await http(`/postbacks/fixme?${tuneShaped('tx-r3')}&token=stale`)).toMatchObject({ status: 401 });
      expect(await get('fixme', 'aff_click_id=clk-ok&transaction_id=tx-ok&payout=1')).toMatchObject({ status: 200, body: { status: 'stored' } });
      await client.upsertPartner(partner({ partnerId: 'fixme', kind: PartnerKind.PARTNER_KIND_TUNE }));
      const archivedBefore = (await archived('fixme')).length;

      const dry = await client.replayPostbacks({ partnerId: 'fixme', ...window, dryRun: true, outcomes: [], limit: 0 });
      expect(dry).toMatchObject({ dryRun: true, truncated: false, outcomeCounts: { stored: '3' } });
      expect(dry.results.map((r) => [r.originalOutcome, r.outcome, r.conversionId])).toEqual([
        ['invalid', 'stored', 'tx-r1'],
        ['invalid', 'stored', 'tx-r2'],
        ['unauthorized', 'stored', 'tx-r3'],
      ]);
      await expect(client.getConversion({ partnerId: 'fixme', conversionId: 'tx-r1' })).rejects.toMatchObject({ code: status.NOT_FOUND });
      expect(await archived('fixme')).toHaveLength(archivedBefore);

      clock.set('2026-11-05T09:00:00Z');
      const real = await client.replayPostbacks({ partnerId: 'fixme', ...window, dryRun: false, outcomes: [], limit: 0 });
      expect(real.results.map((r) => r.outcome)).toEqual(['stored', 'stored', 'stored']);
      const { rows: runs } = await pg.query(`SELECT payload FROM "ingest".outbox WHERE subject = $1 ORDER BY seq`, [Events.PostbacksReplayed.subject]);
      // The dry run published nothing; the real one its counts.
      expect(runs.map((r) => PostbacksReplayed.decode(r.payload))).toEqual([
        { partnerId: 'fixme', receivedFrom: window.receivedFrom, receivedTo: window.receivedTo, outcomeCounts: { stored: '3' }, truncated: false },
      ]);
      const { conversion } = await client.getConversion({ partnerId: 'fixme', conversionId: 'tx-r1' });
      expect(conversion).toMatchObject({ clickId: 'clk-tx-r1', payout: { currencyCode: 'USD', amountMicros: '7250000' } });
      expect(conversion!.occurredAt).toEqual(new Date('2026-11-04T23:59:00Z'));
      // Received when the partner first sent it, not when it was replayed.
      expect(conversion!.receivedAt).toEqual(new Date('2026-11-05T08:00:00Z'));
      const { rows: replays } = await pg.query(
        `SELECT r.replay_of::text, r.outcome, o.outcome AS original FROM "ingest".postback_requests r JOIN "ingest".postback_requests o ON o.id = r.replay_of WHERE r.partner_id = 'fixme' ORDER BY r.id`,
      );
      expect(replays.map((r) => [r.original, r.outcome])).toEqual([['invalid', 'stored'], ['invalid', 'stored'], ['unauthorized', 'stored']]);

      // The same replay again finds them stored; a replay of what was stored from the start is as harmless.
      const again = await client.replayPostbacks({ partnerId: 'fixme', ...window, dryRun: false, outcomes: [], limit: 0 });
      expect(again.results.map((r) => [r.outcome, r.reasonCode])).toEqual(Array(3).fill(['duplicate', 'SAME_CONTENT']));
      const stored = await client.replayPostbacks({ partnerId: 'fixme', ...window, dryRun: false, outcomes: ['stored'], limit: 0 });
      expect(stored.results.map((r) => [r.conversionId, r.outcome])).toEqual([['tx-ok', 'duplicate']]);

      await eventually(async () => (await events()).received.filter((c) => c.partnerId === 'fixme').length >= 4);
      await outboxDrained(t.db.url, 'ingest');
      await conversionsPublished(t.db.url);
      const all = await events();
      // Each once, whether the relay read it alone or in a run with others, under the id the relay gives it.
      expect(all.received.filter((c) => c.partnerId === 'fixme').map((c) => c.conversionId).sort()).toEqual(['tx-ok', 'tx-r1', 'tx-r2', 'tx-r3']);
      expect(notAsRelayed(all.carried)).toEqual([]);
      // Replays are not partner traffic.
      expect((await client.getPartnerCounters({ partnerId: 'fixme', since: undefined })).partners[0]).toMatchObject({ received: '4', stored: '1' });
    });

    it('pages with a limit and refuses bad requests', async () => {
      const page = await client.replayPostbacks({ partnerId: 'fixme', ...window, dryRun: true, outcomes: [], limit: 2 });
      expect(page).toMatchObject({ truncated: true, results: [expect.objectContaining({ conversionId: 'tx-r1' }), expect.objectContaining({ conversionId: 'tx-r2' })] });
      expect((await client.replayPostbacks({ partnerId: 'nobody', ...window, dryRun: true, outcomes: [], limit: 0 }).catch((e) => e)).code).toBe(status.NOT_FOUND);
      const bad = await client.replayPostbacks({ partnerId: 'fixme', receivedFrom: window.receivedTo, receivedTo: window.receivedFrom, dryRun: true, outcomes: [], limit: 0 }).catch((e) => e);
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/received_to must be after received_from/);
    });
  });
});
