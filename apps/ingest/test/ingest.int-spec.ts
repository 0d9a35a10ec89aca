import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { GrpcCallError, PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { Events, Streams } from '@trackly/messaging';
import { eventually, testInfra, outboxDrained } from '@trackly/testing';
import { CarriedConversion, carriedConversions, conversionsPublished, notAsRelayed } from './conversions-published';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionAttributed, ConversionUnattributed } from '@trackly/contracts/attribution/v1/attribution_events';
import { Attribution, AttributionOutcome, AttributionType, UnattributedReason } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionsService } from '../src/conversions/conversions.service';
import { IngestTestApp, partnerRequest, PostbackAnswer, registerPartners, startIngestForTest } from './ingest-test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_BODY = 4096;

describe('ingest service (real Postgres, NATS, gRPC, HTTP)', () => {
  let t: IngestTestApp;
  let client: PromiseClient<typeof IngestServiceService>;
  let pg: Client;
  let nc: NatsConnection;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startIngestForTest({ INGEST_MAX_BODY_BYTES: String(MAX_BODY) }, clock);
    ({ client, pg } = t);
    nc = await connect({ servers: testInfra().natsUrl });
    Object.assign(tokens, await registerPartners(client, ['acme', 'beta', 'zeta', 'gamma', 'delta', 'epsilon'].map((id) => partnerRequest(id))));
  });

  afterAll(async () => {
    await nc?.close();
    await t?.close();
  });

  /**
   * Every conversion on the ingest stream so far, in stream order, whichever event carries it: alone in a
   * ConversionReceived or one of a ConversionsReceived run (flattened).
   */
  async function carriedEvents(): Promise<CarriedConversion[]> {
    const js = jetstream(nc);
    const c = await js.consumers.get(`${t.prefix.toUpperCase()}_${Streams.ingest.name}`); // ephemeral ordered consumer
    const out: CarriedConversion[] = [];
    const batch = await c.fetch({ max_messages: 500, expires: 1000 });
    for await (const m of batch) {
      // Refusals, partner changes and replays are on this stream too (issue 18); only conversions are read here.
      out.push(...(carriedConversions(t.prefix, m) ?? []));
    }
    return out;
  }

  /** The conversions carriedEvents finds, decoded. */
  const receivedEvents = async (): Promise<Conversion[]> => (await carriedEvents()).map((c) => c.conversion);

  async function archived(partnerId: string) {
    const { rows } = await pg.query(
      `SELECT method, path, query, content_type, body, outcome, reason, reason_code, conversion_ref, source_ip, received_at
       FROM "ingest".postback_requests WHERE partner_id = $1 ORDER BY id`,
      [partnerId],
    );
    return rows;
  }

  /** Tokens of the partners registered in beforeAll; postback() adds the partner's token to the query. */
  const tokens: Record<string, string> = {};

  async function postback(path: string, init: RequestInit = {}) {
    const partner = /^\/postbacks\/([^/?]+)/.exec(path)?.[1];
    const token = partner ? tokens[partner] : undefined;
    const url = token ? `${path}${path.includes('?') ? '&' : '?'}token=${token}` : path;
    const res = await fetch(`${t.base}${url}`, init);
    return { status: res.status, body: ((await res.json().catch(() => undefined)) ?? {}) as PostbackAnswer, headers: res.headers };
  }

  describe('HTTP postbacks', () => {
    it('stores a GET postback once; a repeat is a 200 duplicate with the same id; both are archived, token redacted', async () => {
      const url = '/postbacks/acme?click_id=Ab3dEf9hIj2LmN0pQr5tUv&transaction_id=tx-100&payout=24.99&currency=usd&status=sale&offer_id=42';
      const first = await postback(url);
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-store');
      expect(first.body).toEqual({ status: 'stored', id: expect.stringMatching(UUID), conversion_id: 'tx-100' });

      clock.advance(60_000);
      const again = await postback(url.replace('click_id=Ab3dEf9hIj2LmN0pQr5tUv', 'click_id=other'));
      expect(again).toMatchObject({ status: 200, body: { status: 'duplicate', id: first.body.id, conversion_id: 'tx-100' } });

      const { conversion } = await client.getConversion({ partnerId: 'acme', conversionId: 'tx-100' });
      expect(conversion).toMatchObject({
        id: first.body.id,
        clickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
        payout: { currencyCode: 'USD', amountMicros: '24990000' },
        status: ConversionStatus.CONVERSION_STATUS_APPROVED,
        attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
        attributionReason: '',
        creditedMessageId: '',
      });
      expect(conversion!.occurredAt).toEqual(new Date('2026-11-02T10:00:00Z'));
      expect(conversion!.receivedAt).toEqual(new Date('2026-11-02T10:00:00Z'));

      const rows = await archived('acme');
      expect(rows).toEqual([
        expect.objectContaining({ method: 'GET', path: '/postbacks/acme', query: `${url.split('?')[1]}&token=REDACTED`, body: null, outcome: 'stored', reason: null, conversion_ref: first.body.id }),
        expect.objectContaining({ outcome: 'duplicate', reason: expect.stringContaining('already stored'), conversion_ref: first.body.id }),
      ]);
      expect(rows[0].source_ip).toMatch(/127\.0\.0\.1/);
      const raw = await pg.query(`SELECT raw FROM "ingest".conversions WHERE id = $1`, [first.body.id]);
      expect(raw.rows[0].raw).toMatchObject({ offer_id: '42', currency: 'usd', status: 'sale' });
    });

    it('stores a POST form postback (body over query) and a POST JSON postback with exact money', async () => {
      const form = await postback('/postbacks/beta?payout=1.00&click_id=from-query', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'conversion_id=form-1&payout=24%2C99&cnv_status=pending&occurred_at=2026-11-01T12%3A00%3A00%2B02%3A00',
      });
      expect(form).toMatchObject({ status: 200, body: { status: 'stored', conversion_id: 'form-1' } });

      const json = await postback('/postbacks/beta?currency=EUR', {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: '{"order_id": "json-1", "subid": 12345, "payout": 24.99, "datetime": 1793520000}',
      });
      expect(json).toMatchObject({ status: 200, body: { status: 'stored', conversion_id: 'json-1' } });
      const dup = await postback('/postbacks/beta', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order_id: 'json-1', payout: '24.990', currency: 'EUR', token: tokens.beta }),
      });
      expect(dup).toMatchObject({ status: 200, body: { status: 'duplicate', id: json.body.id } });

      const f = (await client.getConversion({ partnerId: 'beta', conversionId: 'form-1' })).conversion!;
      expect(f).toMatchObject({ clickId: 'from-query', payout: { currencyCode: 'USD', amountMicros: '24990000' }, status: ConversionStatus.CONVERSION_STATUS_PENDING });
      expect(f.occurredAt).toEqual(new Date('2026-11-01T10:00:00Z'));
      const j = (await client.getConversion({ partnerId: 'beta', conversionId: 'json-1' })).conversion!;
      expect(j).toMatchObject({ clickId: '12345', payout: { currencyCode: 'EUR', amountMicros: '24990000' } });
      expect(j.occurredAt).toEqual(new Date('2026-11-01T08:00:00Z'));

      const rows = await archived('beta');
      expect(rows.map((r) => [r.method, r.outcome])).toEqual([['POST', 'stored'], ['POST', 'stored'], ['POST', 'duplicate']]);
      expect(rows[0]).toMatchObject({ content_type: 'application/x-www-form-urlencoded', body: expect.stringContaining('conversion_id=form-1') });
      expect(rows[1].body).toBe('{"order_id": "json-1", "subid": 12345, "payout": 24.99, "datetime": 1793520000}');
      // The body's token (which wins over the query's) is checked, and redacted like the query's.
      expect(rows[2].body).toBe('{"order_id":"json-1","payout":"24.990","currency":"EUR","token":"REDACTED"}');
    });

    it('publishes each stored conversion exactly once (a ConversionReceived, or in a ConversionsReceived run), duplicates none', async () => {
      const events = await eventually(async () => {
        const got = await receivedEvents();
        return got.length >= 3 ? got : undefined;
      });
      // A stray duplicate would be an unpublished outbox row or conversion row until published.
      await outboxDrained(t.db.url, 'ingest');
      await conversionsPublished(t.db.url);
      const carried = await carriedEvents();
      const all = carried.map((c) => c.conversion);
      expect(all.map((c) => `${c.partnerId}/${c.conversionId}`).sort()).toEqual(['acme/tx-100', 'beta/form-1', 'beta/json-1']);
      expect(events.length).toBe(3);
      // Alone: Nats-Msg-Id = the row id; read together: a run id = the digest of the row ids. Never under another id.
      expect(notAsRelayed(carried)).toEqual([]);
      const { rows: stored } = await pg.query(`SELECT id::text FROM "ingest".conversions WHERE partner_id IN ('acme', 'beta')`);
      expect(all.map((c) => c.id).sort()).toEqual(stored.map((r) => r.id).sort());
      const acme = all.find((c) => c.conversionId === 'tx-100')!;
      expect(acme).toMatchObject({
        id: expect.stringMatching(UUID),
        partnerId: 'acme',
        clickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
        payout: { currencyCode: 'USD', amountMicros: '24990000' },
        status: ConversionStatus.CONVERSION_STATUS_APPROVED,
        attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
      });
      expect(acme.occurredAt).toEqual(new Date('2026-11-02T10:00:00Z'));
      expect(acme.receivedAt).toEqual(new Date('2026-11-02T10:00:00Z'));
    });

    it('stores one of many concurrent identical postbacks; the others are duplicates of it, with one event', async () => {
      const url = '/postbacks/zeta?click_id=k&conversion_id=race-1&payout=3.10';
      const answers = await Promise.all(Array.from({ length: 8 }, () => postback(url)));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      expect(answers.filter((a) => a.body.status === 'stored')).toHaveLength(1);
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      const rows = await archived('zeta');
      expect(rows.map((r) => r.outcome).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'stored']);
      await eventually(async () => (await receivedEvents()).some((c) => c.partnerId === 'zeta'));
      await outboxDrained(t.db.url, 'ingest');
      await conversionsPublished(t.db.url);
      expect((await receivedEvents()).filter((c) => c.partnerId === 'zeta')).toHaveLength(1);
    });

    it('answers malformed input with 400 and a problem per parameter, archived as invalid, nothing stored', async () => {
      const res = await postback('/postbacks/gamma?click_id=a&click_id=b&payout=1e3&status=maybe&occurred_at=2026-11-02T10:00:00');
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: 'INVALID_ARGUMENT',
        message: expect.stringContaining('conversion_id is required'),
        fields: {
          click_id: 'must be given once, got 2 values',
          conversion_id: 'is required',
          payout: expect.stringContaining('decimal'),
          status: expect.stringContaining('got "maybe"'),
          occurred_at: expect.stringContaining('UTC offset'),
        },
      });
      const ambiguous = await postback('/postbacks/gamma?conversion_id=c-1&payout=19%2C999');
      expect(ambiguous).toMatchObject({ status: 400, body: { fields: { payout: expect.stringContaining('"19,999" is ambiguous') } } });

      const badJson = await postback('/postbacks/gamma', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"conversion_id": "c-2", "payout": {"amount": 1}}' });
      expect(badJson).toMatchObject({ status: 400, body: { fields: { payout: 'must be a string or a number' } } });
      const brokenJson = await postback('/postbacks/gamma', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"conversion_id": ' });
      expect(brokenJson).toMatchObject({ status: 400, body: { fields: { body: expect.stringContaining('not valid JSON') } } });

      const rows = await archived('gamma');
      expect(rows.map((r) => r.outcome)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
      expect(rows[0]).toMatchObject({
        query: 'click_id=a&click_id=b&payout=1e3&status=maybe&occurred_at=2026-11-02T10:00:00&token=REDACTED',
        reason: expect.stringContaining('conversion_id is required'),
        reason_code: 'INVALID_FIELDS',
        conversion_ref: null,
      });
      expect(rows[3]).toMatchObject({ body: '{"conversion_id": ', content_type: 'application/json' });
      const stored = await pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = 'gamma'`);
      expect(stored.rows[0].n).toBe(0);
    });

    it('reads the guide\'s "$25" and "€19,99"; a postback without payout is stored flagged payout_absent; msg_id is carried', async () => {
      const r = await client.upsertPartner(partnerRequest('money', { defaultCurrency: 'USD' }));
      tokens.money = r.token;
      expect(await postback('/postbacks/money?conversion_id=m-1&payout=%2425')).toMatchObject({ status: 200, body: { status: 'stored' } });
      expect(await postback('/postbacks/money?conversion_id=m-2&payout=%E2%82%AC19%2C99')).toMatchObject({ status: 200, body: { status: 'stored' } });
      expect(await postback('/postbacks/money?conversion_id=m-3&msg_id=msg-3')).toMatchObject({ status: 200, body: { status: 'stored' } });
      const { rows } = await pg.query(
        `SELECT conversion_id, payout_micros::text AS micros, currency, payout_absent FROM "ingest".conversions WHERE partner_id = 'money' ORDER BY conversion_id`,
      );
      expect(rows).toEqual([
        { conversion_id: 'm-1', micros: '25000000', currency: 'USD', payout_absent: false },
        { conversion_id: 'm-2', micros: '19990000', currency: 'EUR', payout_absent: false },
        { conversion_id: 'm-3', micros: '0', currency: 'USD', payout_absent: true },
      ]);
      await eventually(async () => {
        const events = (await receivedEvents()).filter((c) => c.partnerId === 'money');
        // The message id (sent as msg_id) travels with the conversion: attribution can credit a view without a click.
        expect(events.map((c) => [c.conversionId, c.payoutAbsent, c.messageId])).toEqual([['m-1', false, ''], ['m-2', false, ''], ['m-3', true, 'msg-3']]);
        return true;
      });
    });

    it('refuses a bad partner id with 400, archiving the request under the id as given', async () => {
      const res = await postback('/postbacks/bad.partner?conversion_id=c&payout=1');
      expect(res).toMatchObject({ status: 400, body: { error: 'INVALID_ARGUMENT', fields: { partner_id: expect.any(String) } } });
      expect(await archived('bad.partner')).toEqual([expect.objectContaining({ outcome: 'invalid', reason: expect.stringContaining('partner_id') })]);
    });

    it('answers 413 for a body over the limit and 415 for a body type it does not read, archiving both', async () => {
      const big = await postback('/postbacks/delta?conversion_id=big-1&payout=1', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `note=${'x'.repeat(MAX_BODY)}`,
      });
      expect(big).toMatchObject({ status: 413, body: { error: 'PAYLOAD_TOO_LARGE', message: `request body exceeds ${MAX_BODY} bytes` } });
      const bigJson = await postback('/postbacks/delta', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ note: 'y'.repeat(MAX_BODY) }) });
      expect(bigJson.status).toBe(413);
      const justFits = await postback('/postbacks/delta?conversion_id=fits-1&payout=1', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `note=${'x'.repeat(MAX_BODY - 'note='.length)}`,
      });
      expect(justFits).toMatchObject({ status: 200, body: { status: 'stored' } });
      const text = await postback('/postbacks/delta', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'conversion_id=t-1&payout=1' });
      expect(text).toMatchObject({ status: 415, body: { error: 'UNSUPPORTED_MEDIA_TYPE' } });

      const rows = await archived('delta');
      expect(rows.map((r) => r.outcome)).toEqual(['invalid', 'invalid', 'stored', 'invalid']);
      expect(rows[0]).toMatchObject({ body: null, reason: `request body exceeds ${MAX_BODY} bytes`, reason_code: 'BODY_TOO_LARGE', query: 'conversion_id=big-1&payout=1&token=REDACTED' });
      expect(rows[3]).toMatchObject({ body: 'conversion_id=t-1&payout=1', content_type: 'text/plain' });
      await expect(client.getConversion({ partnerId: 'delta', conversionId: 'big-1' })).rejects.toMatchObject({ code: status.NOT_FOUND });
      // Off the postback routes an unreadable body is an ordinary HTTP error, not a 500.
      const elsewhere = await postback('/healthz', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'z'.repeat(MAX_BODY + 1) });
      expect(elsewhere).toMatchObject({ status: 413, body: { error: 'BAD_REQUEST_BODY' } });
    });

    it('never stores on HEAD, and serves health probes', async () => {
      const head = await fetch(`${t.base}/postbacks/epsilon?conversion_id=h-1&payout=1`, { method: 'HEAD' });
      expect(head.status).toBe(405);
      await expect(client.getConversion({ partnerId: 'epsilon', conversionId: 'h-1' })).rejects.toMatchObject({ code: status.NOT_FOUND });
      expect(await postback('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await postback('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
    });
  });

  describe('gRPC', () => {
    it('submits idempotently with the same rules as the postback edge', async () => {
      clock.set('2026-11-03T09:00:00Z');
      const req = {
        partnerId: 'internal',
        conversionId: 'sub-1',
        clickId: 'clk-1',
        payout: { currencyCode: 'usd', amountMicros: '0' },
        status: ConversionStatus.CONVERSION_STATUS_UNSPECIFIED,
        occurredAt: undefined,
        messageId: '',
      };
      const first = await client.submitConversion(req);
      expect(first.duplicate).toBe(false);
      expect(first.conversion).toMatchObject({
        id: expect.stringMatching(UUID),
        payout: { currencyCode: 'USD', amountMicros: '0' },
        status: ConversionStatus.CONVERSION_STATUS_APPROVED,
        attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
      });
      expect(first.conversion!.occurredAt).toEqual(new Date('2026-11-03T09:00:00Z'));
      const again = await client.submitConversion({ ...req, payout: { currencyCode: 'USD', amountMicros: '5' } });
      expect(again.duplicate).toBe(true);
      expect(again.conversion).toEqual(first.conversion);

      const bad = await client
        .submitConversion({ ...req, partnerId: 'bad partner', conversionId: '', payout: { currencyCode: 'USD', amountMicros: '-1' } })
        .catch((e) => e);
      expect(bad).toBeInstanceOf(GrpcCallError);
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/partner_id/);
      expect(bad.details).toMatch(/conversion_id is required/);
      expect(bad.details).toMatch(/payout.amount_micros must not be negative/);
      const noPayout = await client.submitConversion({ ...req, conversionId: 'sub-2', payout: undefined }).catch((e) => e);
      expect(noPayout.details).toBe('payout is required');
    });

    it('answers NOT_FOUND and INVALID_ARGUMENT on GetConversion', async () => {
      const missing = await client.getConversion({ partnerId: 'internal', conversionId: 'nope' }).catch((e) => e);
      expect(missing.code).toBe(status.NOT_FOUND);
      const invalid = await client.getConversion({ partnerId: '', conversionId: 'x' }).catch((e) => e);
      expect(invalid.code).toBe(status.INVALID_ARGUMENT);
    });

    it('lists newest first by (received_at, id), paging with an opaque token, with filters', async () => {
      clock.set('2026-11-04T00:00:00Z');
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        if (i !== 3) clock.advance(1000); // the 3rd and 4th share a received_at: the id breaks the tie
        const { conversion } = await client.submitConversion({
          partnerId: 'paging',
          conversionId: `p-${i}`,
          clickId: i % 2 ? 'odd' : 'even',
          payout: { currencyCode: 'USD', amountMicros: String(i) },
          status: ConversionStatus.CONVERSION_STATUS_APPROVED,
          occurredAt: undefined,
          messageId: '',
        });
        ids.push(conversion!.id);
      }
      const tied = [ids[2], ids[3]].sort().reverse();
      const expected = [ids[4], ...tied, ids[1], ids[0]];

      const seen: string[] = [];
      let pageToken = '';
      let pages = 0;
      do {
        const page = await client.listConversions({ partnerId: 'paging', clickId: '', attributionState: 0, pageSize: 2, pageToken });
        expect(page.conversions.length).toBeLessThanOrEqual(2);
        seen.push(...page.conversions.map((c) => c.id));
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken && pages < 10);
      expect(seen).toEqual(expected);
      expect(pages).toBe(3);

      const all = await client.listConversions({ partnerId: 'paging', clickId: '', attributionState: 0, pageSize: 0, pageToken: '' });
      expect(all.conversions.map((c) => c.id)).toEqual(expected);
      expect(all.nextPageToken).toBe('');
      const odd = await client.listConversions({ partnerId: 'paging', clickId: 'odd', attributionState: 0, pageSize: 0, pageToken: '' });
      expect(odd.conversions.map((c) => c.conversionId)).toEqual(['p-3', 'p-1']);
      const everything = await client.listConversions({ partnerId: '', clickId: '', attributionState: AttributionState.ATTRIBUTION_STATE_PENDING, pageSize: 500, pageToken: '' });
      expect(everything.conversions.length).toBeGreaterThanOrEqual(10);
      expect(everything.conversions[0].partnerId).toBe('paging');

      const first = await client.listConversions({ partnerId: 'paging', clickId: '', attributionState: 0, pageSize: 1, pageToken: '' });
      const wrongFilters = await client
        .listConversions({ partnerId: 'acme', clickId: '', attributionState: 0, pageSize: 1, pageToken: first.nextPageToken })
        .catch((e) => e);
      expect(wrongFilters.code).toBe(status.INVALID_ARGUMENT);
      const garbage = await client.listConversions({ partnerId: '', clickId: '', attributionState: 0, pageSize: 1, pageToken: 'not-a-token' }).catch((e) => e);
      expect(garbage.code).toBe(status.INVALID_ARGUMENT);
      expect(garbage.details).toMatch(/page_token/);
    });
  });

  describe('attribution outcomes', () => {
    const attribution = (over: Partial<Attribution>): Attribution => ({
      partnerId: 'acme',
      conversionId: 'tx-100',
      conversionRef: '',
      ruleVersion: 'first-click/1',
      test: false, source: 0, payoutDefaulted: false, overCap: false, holdUntil: undefined,
      outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_ATTRIBUTED,
      reason: UnattributedReason.UNATTRIBUTED_REASON_UNSPECIFIED,
      type: AttributionType.ATTRIBUTION_TYPE_CLICK_THROUGH,
      reportedClickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
      creditedClickId: 'Ab3dEf9hIj2LmN0pQr5tUv',
      messageId: 'msg-a',
      contactId: 'contact-1',
      offerId: 'summer',
      campaignId: 'camp-1',
      creativeId: 'cr-1',
      payout: { currencyCode: 'USD', amountMicros: '24990000' },
      status: ConversionStatus.CONVERSION_STATUS_APPROVED,
      occurredAt: new Date('2026-11-02T10:00:00Z'),
      creditedClickedAt: new Date('2026-11-02T09:00:00Z'),
      windowDays: 30,
      decidedAt: new Date('2026-11-02T10:00:01Z'),
      explanation: 'first click on the offer within 30 days',
      ...over,
    });

    it('records ConversionAttributed and ConversionUnattributed on the conversion, and lists by state', async () => {
      const js = jetstream(nc);
      await js.publish(
        `${t.prefix}.${Events.ConversionAttributed.subject}`,
        ConversionAttributed.encode({ attribution: attribution({}) }).finish(),
        { msgID: 'attr-event-1' },
      );
      await js.publish(
        `${t.prefix}.${Events.ConversionUnattributed.subject}`,
        ConversionUnattributed.encode({
          attribution: attribution({
            partnerId: 'beta',
            conversionId: 'form-1',
            outcome: AttributionOutcome.ATTRIBUTION_OUTCOME_UNATTRIBUTED,
            reason: UnattributedReason.UNATTRIBUTED_REASON_UNKNOWN_CLICK_ID,
            messageId: '',
          }),
        }).finish(),
        { msgID: 'attr-event-2' },
      );
      // A decision about a conversion never stored here is acknowledged and ignored.
      await js.publish(
        `${t.prefix}.${Events.ConversionAttributed.subject}`,
        ConversionAttributed.encode({ attribution: attribution({ partnerId: 'elsewhere', conversionId: 'zzz' }) }).finish(),
        { msgID: 'attr-event-3' },
      );

      const attributed = await eventually(async () => {
        const { conversion } = await client.getConversion({ partnerId: 'acme', conversionId: 'tx-100' });
        return conversion!.attributionState === AttributionState.ATTRIBUTION_STATE_ATTRIBUTED ? conversion : undefined;
      });
      expect(attributed).toMatchObject({ creditedMessageId: 'msg-a', attributionReason: '' });
      const unattributed = await eventually(async () => {
        const { conversion } = await client.getConversion({ partnerId: 'beta', conversionId: 'form-1' });
        return conversion!.attributionState === AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED ? conversion : undefined;
      });
      expect(unattributed).toMatchObject({ attributionReason: 'UNKNOWN_CLICK_ID', creditedMessageId: '' });

      const listed = await client.listConversions({ partnerId: '', clickId: '', attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED, pageSize: 0, pageToken: '' });
      expect(listed.conversions.map((c) => c.conversionId)).toEqual(['tx-100']);
      await eventually(async () => {
        const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".processed_events`);
        return rows[0].n === 3;
      });
      const { rows: dead } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".dead_letters`);
      expect(dead[0].n).toBe(0);
    });

    it('names, of a batch of verdicts, exactly the ones about conversions never stored here', async () => {
      const conversions = t.app.app.get(ConversionsService);
      const unknown = await t.app.app.get(DataSource).transaction((m) =>
        conversions.recordVerdicts(m, [
          { partnerId: 'acme', conversionId: 'tx-100', state: 'ATTRIBUTED', reason: null, creditedMessageId: 'msg-a' },
          { partnerId: 'elsewhere', conversionId: 'zzz', state: 'ATTRIBUTED', reason: null, creditedMessageId: 'msg-b' },
          { partnerId: 'beta', conversionId: 'form-1', state: 'UNATTRIBUTED', reason: 'UNKNOWN_CLICK_ID', creditedMessageId: null },
        ]),
      );
      expect(unknown.map((v) => `${v.partnerId}/${v.conversionId}`)).toEqual(['elsewhere/zzz']);
    });
  });
});
