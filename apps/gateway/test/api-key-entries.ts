import { createHash } from 'node:crypto';
import { Scope, SCOPES } from '../src/domain/api-keys';

export const ALL_SCOPES: Scope[] = [...SCOPES];

/** GATEWAY_API_KEYS for test keys: only their SHA-256 goes into the configuration, as in production. */
export function apiKeysJson(keys: { name: string; key: string; scopes?: Scope[]; campaigns?: string[]; offers?: string[] }[]): string {
  return JSON.stringify(
    keys.map(({ key, scopes = ALL_SCOPES, ...rest }) => ({ ...rest, sha256: createHash('sha256').update(key).digest('hex'), scopes })),
  );
}
