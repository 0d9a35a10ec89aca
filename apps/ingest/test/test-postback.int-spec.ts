import { PromiseClient } from '@trackly/grpc';
import { IngestServiceService, SendTestPostbackRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { IngestTestApp, startIngestForTest } from './ingest-test-app';

/** SendTestPostback: a real postback through our own edge, reported end to end (real Postgres, NATS, gRPC, HTTP). */
describe('ingest SendTestPostback', () => {
  let t: IngestTestApp;
  let client: PromiseClient<typeof IngestServiceService>;
  let tuneToken: string;
  let efToken: string;

  const req = (over: Partial<SendTestPostbackRequest>): SendTestPostbackRequest => ({
    partnerId: 'tune-net', token: tuneToken, clickId: 'clk-1', payout: '', currency: '', ...over,
  });

  beforeAll(async () => {
    t = await startIngestForTest({
      // Unreachable on purpose: the test postback must go to our own listening address.
      INGEST_PUBLIC_URL: 'https://in.trackly.invalid',
    });
    ({ client } = t);
    const base = { name: '', allowedSources: [] };
    tuneToken = (await client.upsertPartner({ ...base, partnerId: 'tune-net', kind: PartnerKind.PARTNER_KIND_TUNE, clickIdParam: 'aff_sub2', defaultCurrency: 'EUR' })).token;
    efToken = (await client.upsertPartner({ ...base, partnerId: 'ef-net', kind: PartnerKind.PARTNER_KIND_EVERFLOW, clickIdParam: '', defaultCurrency: '' })).token;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('stores a TUNE test conversion through the edge with the defaults, and reports the URL without the token', async () => {
    const res = await client.sendTestPostback(req({}));
    expect(res.httpStatus).toBe(200);
    expect(JSON.parse(res.responseBody)).toMatchObject({ status: 'stored', conversion_id: res.conversionId });
    expect(res.conversionId).toMatch(/^test-[0-9a-f]{12}$/);
    expect(res.url).toBe(`http://127.0.0.1:${new URL(res.url).port}/postbacks/tune-net?token=REDACTED&click_id=clk-1&transaction_id=${res.conversionId}&payout=1.00&currency=EUR&test=1`);
    expect(res.url).not.toContain(tuneToken);
    expect(res.conversion).toMatchObject({
      partnerId: 'tune-net', conversionId: res.conversionId, clickId: 'clk-1', payout: { currencyCode: 'EUR', amountMicros: '1000000' }, test: true,
    });
  });

  it("needs no token: ingest authenticates its own test, stores it as a test, and the partner's status shows it", async () => {
    const res = await client.sendTestPostback(req({ token: '', conversionId: 'no-secret-1' }));
    expect(res.httpStatus).toBe(200);
    expect(res.url).toContain('token=REDACTED');
    expect(res.conversion).toMatchObject({ conversionId: 'no-secret-1', test: true });
    const { partner } = await client.getPartner({ partnerId: 'tune-net' });
    expect(partner).toMatchObject({ lastTestPostbackOutcome: 'stored', lastTestPostbackAt: expect.any(Date) });
    const wrong = await client.sendTestPostback(req({ token: 'not-the-token', conversionId: 'no-secret-2' }));
    expect(wrong.httpStatus).toBe(401);
    expect((await client.getPartner({ partnerId: 'tune-net' })).partner?.lastTestPostbackOutcome).toBe('401 token is not valid');
  });

  it("reads a partner's own test flag: test=1 is stored as a test conversion, test=0 is not", async () => {
    const port = new URL((await client.sendTestPostback(req({ conversionId: 'port-probe' }))).url).port;
    const send = (tx: string, flag: string) =>
      fetch(`http://127.0.0.1:${port}/postbacks/ef-net?token=${efToken}&click_id=c&conversion_id=${tx}&payout=2&test=${flag}`);
    expect((await send('own-test-1', '1')).status).toBe(200);
    expect((await send('own-real-1', '0')).status).toBe(200);
    expect((await client.getConversion({ partnerId: 'ef-net', conversionId: 'own-test-1' })).conversion?.test).toBe(true);
    expect((await client.getConversion({ partnerId: 'ef-net', conversionId: 'own-real-1' })).conversion?.test).toBe(false);
    expect((await client.getPartner({ partnerId: 'ef-net' })).partner?.lastTestPostbackOutcome).toBe('stored');
  });

  it('sends Everflow names with the given payout, currency and conversion id; the same again is a duplicate', async () => {
    const r = req({ partnerId: 'ef-net', token: efToken, payout: '24.99', currency: 'GBP', conversionId: 'manual-1' });
    const first = await client.sendTestPostback(r);
    expect(first.httpStatus).toBe(200);
    expect(first.url).toContain('click_id=clk-1&transaction_id=manual-1&conversion_id=manual-1&payout=24.99&currency=GBP');
    expect(first.conversion).toMatchObject({ conversionId: 'manual-1', payout: { currencyCode: 'GBP', amountMicros: '24990000' } });
    const again = await client.sendTestPostback(r);
    expect(again.httpStatus).toBe(200);
    expect(JSON.parse(again.responseBody)).toMatchObject({ status: 'duplicate' });
    expect(again.conversion?.id).toBe(first.conversion?.id);
  });

  it("reports the edge's 401 for a wrong token instead of failing, and nothing is stored", async () => {
    const res = await client.sendTestPostback(req({ token: 'not-the-token', conversionId: 'bad-token-1' }));
    expect(res.httpStatus).toBe(401);
    expect(JSON.parse(res.responseBody)).toEqual({ error: 'UNAUTHENTICATED', message: 'token is not valid' });
    expect(res.url).toContain('token=REDACTED');
    expect(res.conversion).toBeUndefined();
    await expect(client.getConversion({ partnerId: 'tune-net', conversionId: 'bad-token-1' })).rejects.toMatchObject({ code: 5 });
  });

  it('refuses an unknown partner as NOT_FOUND', async () => {
    await expect(client.sendTestPostback(req({ partnerId: 'nobody' }))).rejects.toMatchObject({ code: 5 });
  });
});
