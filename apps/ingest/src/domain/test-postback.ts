/**
 * The "test with a manual conversion" postback: the partner's own template URL with its macros filled in the way the
 * partner's platform would fill them, so the request exercises exactly the path real postbacks take.
 */

/** Shown instead of the token wherever the URL called is reported. */
export const REDACTED_TOKEN = 'REDACTED';

export interface TestConversion {
  clickId: string;
  conversionId: string;
  payout: string;
  currency: string;
}

/**
 * Fills a template URL (from postbackTemplate): the click id macro gets the click id, the dedupe-key macros the
 * conversion id, payout/currency/status theirs; parameters whose macro we have no value for (offer, goal, event,
 * time, sale amount) are left out, as a platform would send them empty.
 */
export function fillPostbackTemplate(templateUrl: string, clickIdMacro: string, c: TestConversion): string {
  const values: Record<string, string> = {
    transaction_id: c.conversionId,
    conversion_id: c.conversionId,
    payout: c.payout,
    currency: c.currency,
    status: 'approved',
  };
  const [base, query = ''] = templateUrl.split('?', 2);
  const out: string[] = [];
  for (const pair of query.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    const macro = /^\{(\w+)\}$/.exec(raw);
    if (!macro) {
      out.push(pair); // the token, already encoded
      continue;
    }
    const value = raw === clickIdMacro ? c.clickId : values[macro[1]];
    if (value !== undefined) out.push(`${key}=${encodeURIComponent(value)}`);
  }
  return `${base}?${out.join('&')}`;
}

/** The URL with the token's value replaced, for reports and logs. */
export function redactToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, `$1${REDACTED_TOKEN}`);
}

/** Our own edge as seen from this process: a wildcard listening host is reached through loopback. */
export function ownEdgeBaseUrl(host: string, port: number): string {
  if (!host || host === '0.0.0.0') return `http://127.0.0.1:${port}`;
  if (host === '::') return `http://[::1]:${port}`;
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}
