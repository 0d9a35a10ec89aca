/**
 * Listing conversions newest first with keyset paging: the page token is the (received_at, id) of the last row
 * returned, so pages stay stable while new conversions arrive. Tokens are opaque to callers (base64url JSON) and
 * bound to the filters they were issued for.
 */
import type { ListConversionsRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { InvalidArgumentError } from '@trackly/kernel';
import { attributionStateName, AttributionStateName, externalIdProblem, FieldProblems, partnerIdProblem } from './conversion.rules';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface ListCursor {
  /** received_at as microseconds since the epoch (Postgres precision; a JS Date would drop the micros). */
  receivedAtMicros: string;
  id: string;
}

export interface ListQuery {
  partnerId?: string;
  clickId?: string;
  attributionState?: AttributionStateName;
  pageSize: number;
  after?: ListCursor;
  /** Identifies the filters; a token is only valid with the filters it was issued for. */
  filterKey: string;
}

export function validateListRequest(req: ListConversionsRequest): ListQuery {
  const fields: FieldProblems = {};
  const partnerId = req.partnerId || undefined;
  const partner = partnerId === undefined ? undefined : partnerIdProblem(partnerId);
  if (partner) fields.partner_id = partner;
  const clickId = req.clickId || undefined;
  const click = clickId === undefined ? undefined : externalIdProblem(clickId);
  if (click) fields.click_id = click;
  let attributionState: AttributionStateName | undefined;
  if (req.attributionState) {
    attributionState = attributionStateName(req.attributionState);
    if (!attributionState) fields.attribution_state = `is not a known attribution state (${req.attributionState})`;
  }
  const size = req.pageSize ?? 0;
  if (!Number.isInteger(size) || size < 0) fields.page_size = 'must be a whole number from 0 to 500';
  if (Object.keys(fields).length) throw InvalidArgumentError.of(fields);
  // Larger pages are served at the maximum rather than refused (AIP-158).
  const pageSize = size === 0 ? DEFAULT_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  const filterKey = JSON.stringify([partnerId ?? '', clickId ?? '', attributionState ?? '']);
  const after = req.pageToken ? decodePageToken(req.pageToken, filterKey) : undefined;
  return { partnerId, clickId, attributionState, pageSize, after, filterKey };
}

export function encodePageToken(cursor: ListCursor, filterKey: string): string {
  return Buffer.from(JSON.stringify({ t: cursor.receivedAtMicros, i: cursor.id, f: filterKey }), 'utf8').toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function decodePageToken(token: string, filterKey: string): ListCursor {
  const invalid = () => new InvalidArgumentError('page_token', 'is not a token from a previous ListConversions response');
  if (token.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { t, i, f } = (body ?? {}) as Record<string, unknown>;
  if (typeof t !== 'string' || !/^-?\d{1,19}$/.test(t) || typeof i !== 'string' || !UUID.test(i) || typeof f !== 'string') {
    throw invalid();
  }
  if (f !== filterKey) throw new InvalidArgumentError('page_token', 'was issued for different filters; repeat the same filters when paging');
  return { receivedAtMicros: t, id: i };
}
