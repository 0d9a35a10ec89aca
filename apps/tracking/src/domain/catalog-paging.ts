/**
 * Paging of the catalog lists (ListOffers, ListCreatives, ListCampaigns): keyset pages in id order, so a page costs
 * one index range read however deep it is, and rows written meanwhile never shift a page. The token is opaque to
 * callers (base64url of the list's name and the last id served) and is refused for another list.
 */
import { InvalidArgumentError, assertId } from '@trackly/kernel';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export type CatalogList = 'offers' | 'creatives' | 'campaigns';

export interface PageRequest {
  /** Rows to serve. */
  limit: number;
  /** Serve ids after this one; undefined for the first page. */
  after?: string;
}

export function readPageRequest(list: CatalogList, pageSize: number, pageToken: string): PageRequest {
  if (!Number.isInteger(pageSize) || pageSize < 0 || pageSize > MAX_PAGE_SIZE) {
    throw new InvalidArgumentError('page_size', `must be between 1 and ${MAX_PAGE_SIZE} (0 means ${DEFAULT_PAGE_SIZE})`);
  }
  const limit = pageSize || DEFAULT_PAGE_SIZE;
  if (!pageToken) return { limit };
  const refused = () => new InvalidArgumentError('page_token', `is not a token from a previous List${list[0].toUpperCase()}${list.slice(1)} response`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8'));
  } catch {
    throw refused();
  }
  const { l, a } = (parsed ?? {}) as { l?: unknown; a?: unknown };
  if (l !== list || typeof a !== 'string') throw refused();
  try {
    assertId(a, 'page_token');
  } catch {
    throw refused();
  }
  return { limit, after: a };
}

/** The token for the page after `lastId`, or '' when this page was the last one. */
export function nextPageToken(list: CatalogList, lastId: string | undefined, more: boolean): string {
  return more && lastId !== undefined ? Buffer.from(JSON.stringify({ l: list, a: lastId }), 'utf8').toString('base64url') : '';
}
