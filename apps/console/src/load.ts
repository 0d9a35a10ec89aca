import { useState } from 'react';
import { useQuery, type UseQueryOptions } from '@tanstack/react-query';
import { api } from './api';

/** A GET of the gateway's API as a query (cached under `key`). */
export function useApi<T>(key: unknown[], path: string, options: Omit<UseQueryOptions<T>, 'queryKey' | 'queryFn'> = {}) {
  return useQuery<T>({ queryKey: key, queryFn: () => api<T>(path), ...options });
}

/**
 * A query's state as the props of <Status>: loading until the first answer, its error, and `empty` once an answer
 * came back that `isEmpty` calls empty.
 */
export function loadState<T>(q: { isPending: boolean; error: unknown; data: T | undefined }, isEmpty: (data: T) => boolean = () => false) {
  return { pending: q.isPending, error: q.error, empty: q.data !== undefined && isEmpty(q.data) };
}

/** Cursor pages: the tokens of the pages seen so far ('' is the first), so Previous goes back without a reverse cursor. */
export function useCursorPages() {
  const [tokens, setTokens] = useState<string[]>(['']);
  return {
    token: tokens[tokens.length - 1],
    page: tokens.length,
    back: tokens.length > 1 ? () => setTokens((t) => t.slice(0, -1)) : undefined,
    forward: (next: string | undefined) => (next ? () => setTokens((t) => [...t, next]) : undefined),
    restart: () => setTokens(['']),
  };
}
