/**
 * ListPartners paging: ordered by partner id, an opaque token holding the last id seen and the filter it was for
 * (a token from another filter is refused rather than silently skipping or repeating partners). Pure.
 */
import { InvalidArgumentError } from '@trackly/kernel';
import { PARTNER_ID_PATTERN } from './conversion.rules';

export const DEFAULT_PARTNER_PAGE = 100;
export const MAX_PARTNER_PAGE = 500;

export interface PartnerPageQuery {
  pageSize: number;
  /** Partners after this id. */
  after: string | null;
}

export function validatePartnerPage(pageSize: number | undefined, pageToken: string | undefined, filterKey: string): PartnerPageQuery {
  const size = pageSize ?? 0;
  if (!Number.isInteger(size) || size < 0 || size > MAX_PARTNER_PAGE) throw new InvalidArgumentError('page_size', `must be 1..${MAX_PARTNER_PAGE} (0 = ${DEFAULT_PARTNER_PAGE})`);
  return { pageSize: size || DEFAULT_PARTNER_PAGE, after: pageToken ? decodePartnerPageToken(pageToken, filterKey) : null };
}

export function encodePartnerPageToken(lastPartnerId: string, filterKey: string): string {
  return Buffer.from(JSON.stringify({ a: lastPartnerId, f: filterKey }), 'utf8').toString('base64url');
}

function decodePartnerPageToken(token: string, filterKey: string): string {
  const invalid = () => new InvalidArgumentError('page_token', 'is not a token from a previous ListPartners response with the same kind');
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { a, f } = (body ?? {}) as Record<string, unknown>;
  if (typeof a !== 'string' || !PARTNER_ID_PATTERN.test(a) || f !== filterKey) throw invalid();
  return a;
}
