import { AttributionState } from '@trackly/contracts/ingest/v1/ingest';
import type { ListConversionsRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { DomainError } from '@trackly/kernel';
import { decodePageToken, encodePageToken, validateListRequest } from './conversion-listing';

const req = (over: Partial<ListConversionsRequest> = {}): ListConversionsRequest => ({
  partnerId: '',
  clickId: '',
  attributionState: AttributionState.ATTRIBUTION_STATE_UNSPECIFIED,
  pageSize: 0,
  pageToken: '',
  ...over,
});
const cursor = { receivedAtMicros: '1793613600123456', id: '0b6a3f1e-8c1d-4d55-9a57-0e3c1b2a4f60' };

function fieldsOf(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
    return (e as DomainError).fields;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('validateListRequest', () => {
  it('defaults page size 0 to 50, serves larger ones at 500, and sets no filter for empty fields', () => {
    expect(validateListRequest(req())).toMatchObject({ pageSize: 50, partnerId: undefined, clickId: undefined, attributionState: undefined, after: undefined });
    expect(validateListRequest(req({ pageSize: 7 })).pageSize).toBe(7);
    expect(validateListRequest(req({ pageSize: 500 })).pageSize).toBe(500);
    expect(validateListRequest(req({ pageSize: 501 })).pageSize).toBe(500);
  });

  it('maps the attribution state filter to its stored name', () => {
    expect(validateListRequest(req({ attributionState: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED })).attributionState).toBe('ATTRIBUTED');
  });

  it('refuses bad filters', () => {
    expect(Object.keys(fieldsOf(() => validateListRequest(req({ partnerId: 'no/slashes', attributionState: AttributionState.UNRECOGNIZED }))))).toEqual([
      'partner_id',
      'attribution_state',
    ]);
  });

  it('continues after the cursor of a token issued for the same filters', () => {
    const first = validateListRequest(req({ partnerId: 'acme' }));
    const token = encodePageToken(cursor, first.filterKey);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(validateListRequest(req({ partnerId: 'acme', pageToken: token })).after).toEqual(cursor);
  });

  it('refuses a token issued for other filters', () => {
    const token = encodePageToken(cursor, validateListRequest(req({ partnerId: 'acme' })).filterKey);
    expect(fieldsOf(() => validateListRequest(req({ partnerId: 'other', pageToken: token })))).toEqual({ page_token: expect.stringContaining('different filters') });
  });
});

describe('decodePageToken', () => {
  const key = '["","",""]';
  it.each([
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['JSON null', Buffer.from('null').toString('base64url')],
    ['a bad id', encodePageToken({ ...cursor, id: "x' OR 1=1" }, key)],
    ['a bad time', encodePageToken({ ...cursor, receivedAtMicros: '1.5' }, key)],
    ['no filter key', Buffer.from(JSON.stringify({ t: '1', i: cursor.id })).toString('base64url')],
    ['an overlong token', 'A'.repeat(2000)],
  ])('refuses %s', (_what, token) => {
    expect(fieldsOf(() => decodePageToken(token, key))).toEqual({ page_token: expect.any(String) });
  });

  it('round-trips a cursor', () => {
    expect(decodePageToken(encodePageToken(cursor, key), key)).toEqual(cursor);
  });
});
