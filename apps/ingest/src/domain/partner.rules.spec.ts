import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import type { UpsertPartnerRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { partnerKindFromName, partnerKindName, postbackTemplate, TOKEN_PLACEHOLDER, validatePartner } from './partner.rules';

const req = (over: Partial<UpsertPartnerRequest> = {}): UpsertPartnerRequest => ({
  partnerId: 'acme-net',
  name: 'Acme Network',
  kind: PartnerKind.PARTNER_KIND_TUNE,
  clickIdParam: '',
  defaultCurrency: '',
  allowedSources: [],
  ...over,
});

describe('validatePartner: time zone', () => {
  it.each([
    ['America/New_York', 'America/New_York'],
    [' Europe/Berlin ', 'Europe/Berlin'],
    ['UTC', null],
    ['', null],
  ])('keeps %p as %p', (zone, kept) => {
    const r = validatePartner(req({ timeZone: zone }), 'USD');
    expect(r.ok && r.value.timeZone).toBe(kept);
  });

  it.each(['Mars/Olympus', 'GMT+25', 'Europe/Berlin; x'])('refuses %p with the field named', (zone) => {
    const r = validatePartner(req({ timeZone: zone }), 'USD');
    expect(!r.ok && r.fields.time_zone).toContain('must be an IANA time zone');
  });
});

describe('validatePartner', () => {
  it('fills defaults: the service currency, the kind default click id param, the id as name', () => {
    expect(validatePartner(req({ name: ' ' }), 'USD')).toEqual({
      ok: true,
      value: { partnerId: 'acme-net', name: 'acme-net', kind: 'TUNE', clickIdParam: null, defaultCurrency: 'USD', allowedSources: [], timeZone: null },
    });
    // Spelling out the default stores the default.
    expect(validatePartner(req({ clickIdParam: 'aff_click_id' }), 'USD')).toMatchObject({ ok: true, value: { clickIdParam: null } });
  });

  it('normalises currency and allow-list entries', () => {
    expect(validatePartner(req({ defaultCurrency: ' eur', allowedSources: [' 192.0.2.0-255 ', '2001:db8::/32'] }), 'USD')).toMatchObject({
      ok: true,
      value: { defaultCurrency: 'EUR', allowedSources: ['192.0.2.0-255', '2001:db8::/32'] },
    });
  });

  it.each([
    [PartnerKind.PARTNER_KIND_TUNE, ['aff_sub', 'aff_sub5', 'aff_unique3', 'source'], ['sub1', 'aff_sub6', 's1']],
    [PartnerKind.PARTNER_KIND_EVERFLOW, ['sub2', 'sub10'], ['sub0', 'sub11', 'aff_sub', 'sub01']],
    [PartnerKind.PARTNER_KIND_GENERIC, ['s1', 'clickid', 'sub_id3'], ['token', 'payout', '1abc', 'a-b', 'x'.repeat(33)]],
  ])('kind %s: click id params', (kind, good, bad) => {
    for (const p of good) expect(validatePartner(req({ kind, clickIdParam: p }), 'USD')).toMatchObject({ ok: true, value: { clickIdParam: p } });
    for (const p of bad) expect(validatePartner(req({ kind, clickIdParam: p }), 'USD')).toEqual({ ok: false, fields: { click_id_param: expect.any(String) } });
  });

  it('reports every problem at once', () => {
    expect(validatePartner(req({ partnerId: 'bad id', kind: PartnerKind.PARTNER_KIND_UNSPECIFIED, defaultCurrency: 'dollars', allowedSources: ['10.0.0.1/8'] }), 'USD')).toEqual({
      ok: false,
      fields: {
        partner_id: expect.any(String),
        kind: expect.stringContaining('PARTNER_KIND_TUNE'),
        default_currency: expect.stringContaining('ISO 4217'),
        'allowed_sources[0]': expect.stringContaining('10.0.0.0/8'),
      },
    });
  });

  it('maps kinds both ways', () => {
    for (const k of [PartnerKind.PARTNER_KIND_TUNE, PartnerKind.PARTNER_KIND_EVERFLOW, PartnerKind.PARTNER_KIND_GENERIC]) {
      expect(partnerKindFromName(partnerKindName(k)!)).toBe(k);
    }
    expect(partnerKindName(PartnerKind.UNRECOGNIZED)).toBeUndefined();
    expect(partnerKindFromName('OTHER')).toBe(PartnerKind.PARTNER_KIND_UNSPECIFIED);
  });
});

describe('postbackTemplate', () => {
  const base = 'https://in.trackly.example/';

  it('TUNE: the PARTNERS.md template with the chosen click id macro', () => {
    expect(postbackTemplate({ partnerId: 'tune-net', kind: 'TUNE', clickIdParam: null }, base, 'tok_123')).toEqual({
      url: 'https://in.trackly.example/postbacks/tune-net?token=tok_123&click_id={aff_click_id}&transaction_id={transaction_id}&payout={payout}&currency={currency}&offer_id={offer_id}&goal_id={goal_id}&datetime={datetime}',
      clickIdMacro: '{aff_click_id}',
    });
    expect(postbackTemplate({ partnerId: 'tune-net', kind: 'TUNE', clickIdParam: 'aff_sub2' }, base, null).url).toBe(
      `https://in.trackly.example/postbacks/tune-net?token=${TOKEN_PLACEHOLDER}&click_id={aff_sub2}&transaction_id={transaction_id}&payout={payout}&currency={currency}&offer_id={offer_id}&goal_id={goal_id}&datetime={datetime}`,
    );
  });

  it('Everflow: the PARTNERS.md template, sub1 by default', () => {
    expect(postbackTemplate({ partnerId: 'ef', kind: 'EVERFLOW', clickIdParam: null }, 'http://127.0.0.1:3002', 'T').url).toBe(
      'http://127.0.0.1:3002/postbacks/ef?token=T&click_id={sub1}&transaction_id={transaction_id}&conversion_id={conversion_id}&event_id={event_id}&payout={payout}&currency={currency}&sale_amount={sale_amount}',
    );
    expect(postbackTemplate({ partnerId: 'ef', kind: 'EVERFLOW', clickIdParam: 'sub3' }, 'http://h', 'T').clickIdMacro).toBe('{sub3}');
  });

  it('generic: our parameter names with placeholders the network replaces by its own macros', () => {
    expect(postbackTemplate({ partnerId: 'other', kind: 'GENERIC', clickIdParam: null }, 'http://h', 'T').url).toBe(
      'http://h/postbacks/other?token=T&click_id={click_id}&conversion_id={conversion_id}&payout={payout}&currency={currency}&status={status}&occurred_at={occurred_at}',
    );
  });

  it('percent-encodes the token', () => {
    expect(postbackTemplate({ partnerId: 'p', kind: 'GENERIC', clickIdParam: null }, 'http://h', 'a+b/c').url).toContain('token=a%2Bb%2Fc&');
  });
});
