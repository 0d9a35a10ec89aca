/**
 * What never reaches a log line, whatever a caller passes: secrets (tokens in URLs and headers, API keys,
 * passwords) become [REDACTED], phone numbers are masked like maskPhone ("+1***4567"). Applied to the message, to
 * every string field (nested), and to serialized errors, so an error whose message quotes a postback URL with its
 * `token` query parameter is cleaned too. Logs are low-volume here (no per-request line), so a walk per line is cheap.
 */
export const REDACTED = '[REDACTED]';

// Field names whose value is a secret, wherever they appear.
const SECRET_KEY = /^(authorization|proxy-authorization|x-api-key|api[-_]?key|cookie|set-cookie|password|passwd|secret|client[-_]?secret|token|.*[-_]token|.*Token|GRPC_AUTH_TOKEN|GATEWAY_API_KEYS)$/i;
// Field names holding a phone number in the clear (the masked copies are fine as they are).
const PHONE_KEY = /^(?!.*masked).*(phone|msisdn).*$/i;

// Secret-looking name=value pairs (query parameters in URLs: the partner token on postback URLs first of all).
const SECRET_PARAM = /(\b(?:token|access_token|api_key|apikey|key|secret|password|sig|signature)=)[^&;\s#"'<>]*/gi;
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
// Our own key and token formats, in case one is quoted without a label.
const KNOWN_SECRET = /\btrk_[A-Za-z0-9_-]{20,}/g;
// E.164 numbers: "+" and 8-15 digits not part of a longer run of digits.
const E164 = /\+[1-9]\d{7,14}(?!\d)/g;

export function maskPhoneText(phone: string): string {
  const digits = phone.replace(/[^\d+]/g, '');
  if (digits.length < 7) return '***';
  return `${digits.slice(0, 2)}***${digits.slice(-4)}`;
}

export function scrubText(text: string): string {
  return text
    .replace(SECRET_PARAM, `$1${REDACTED}`)
    .replace(AUTH_SCHEME, `$1 ${REDACTED}`)
    .replace(KNOWN_SECRET, REDACTED)
    .replace(E164, (m) => maskPhoneText(m));
}

/** A scrubbed copy of a log object (plain objects and arrays walked to a bounded depth; Errors left to the err serializer). */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (value instanceof Error || value instanceof Date || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_KEY.test(k) && v !== undefined && v !== null && v !== '') out[k] = REDACTED;
    else if (PHONE_KEY.test(k) && (typeof v === 'string' || typeof v === 'number')) out[k] = maskPhoneText(String(v));
    else out[k] = scrubValue(v, depth + 1);
  }
  return out;
}
