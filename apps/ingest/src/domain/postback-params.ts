/**
 * Turns what a partner sent (query string, form or JSON body) into named parameters. Repeated names keep every
 * value so the parser can refuse ambiguity instead of silently picking one; JSON numbers keep their exact digits
 * so money never passes through a float.
 */
import type { FieldProblems, RawParams, Validated } from './conversion.rules';

export type BodyKind = 'json' | 'form';

/** The body kind of a Content-Type header, or why it is not accepted. */
export function bodyKind(contentType: string | undefined): { kind: BodyKind } | { unsupported: string } {
  if (!contentType) return { unsupported: 'a body needs a Content-Type: application/x-www-form-urlencoded or application/json' };
  const [media, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    return { unsupported: `charset "${charset}" is not supported; send UTF-8` };
  }
  if (media === 'application/x-www-form-urlencoded') return { kind: 'form' };
  if (media === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(media)) return { kind: 'json' };
  return { unsupported: `Content-Type "${media}" is not supported; send application/x-www-form-urlencoded or application/json` };
}

/** Parses a query string or a form body ("a=1&b=2&a=3"); "+" is a space, as browsers and trackers encode it. */
export function parseUrlEncoded(text: string): RawParams {
  const values = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(text.startsWith('?') ? text.slice(1) : text)) {
    const list = values.get(name);
    if (list) list.push(value);
    else values.set(name, [value]);
  }
  return toParams(values);
}

/**
 * Why a query string or form body is not valid percent-encoded UTF-8, or undefined. URLSearchParams quietly turns a
 * "%" without two hex digits into a literal "%" and undecodable bytes (overlong forms, surrogates, truncated
 * sequences) into U+FFFD, so a mangled value could be stored as if the partner had sent it; refusing says the
 * partner's URL is broken instead.
 */
export function urlEncodingProblem(text: string): string | undefined {
  const stray = /%(?![0-9A-Fa-f]{2})/.exec(text);
  if (stray) return `has a "%" not followed by two hex digits (at character ${stray.index})`;
  for (const part of text.split(/[&=]/)) {
    if (!part.includes('%')) continue;
    try {
      decodeURIComponent(part);
    } catch {
      return `is not percent-encoded UTF-8 ("${part.length > 40 ? `${part.slice(0, 40)}…` : part}")`;
    }
  }
  return undefined;
}

/** A JSON body must be one flat object whose values are strings or numbers. */
export function parseJsonParams(text: string): Validated<RawParams> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { ok: false, fields: { body: `is not valid JSON (${(e as Error).message})` } };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, fields: { body: 'must be a JSON object of strings and numbers' } };
  }
  const fields: FieldProblems = {};
  for (const [name, value] of Object.entries(parsed)) {
    // defineProperty, not assignment: a member named "__proto__" must become a problem, not the object's prototype.
    if (typeof value !== 'string' && typeof value !== 'number') {
      Object.defineProperty(fields, name, { value: 'must be a string or a number', enumerable: true, writable: true, configurable: true });
    }
  }
  if (Object.keys(fields).length) return { ok: false, fields };
  // JSON.parse has vouched for the syntax; reading the members again keeps each number's source digits
  // ("24.990" stays "24.990", 1e3 stays "1e3" and is refused later) and sees repeated names, which JSON.parse hides.
  try {
    return { ok: true, value: toParams(readFlatMembers(text)) };
  } catch (e) {
    // Only reachable if the two readers disagree; the partner still gets a 400, not our 500.
    return { ok: false, fields: { body: `could not be read as a flat JSON object (${(e as Error).message})` } };
  }
}

/** Query and body together; a name in the body replaces the same name in the query. */
export function mergeParams(query: RawParams, body: RawParams): RawParams {
  return { ...query, ...body };
}

/** Postgres text and jsonb cannot hold U+0000: the archive keeps everything else exactly. */
export function withoutNul(text: string): string {
  return text.includes('\u0000') ? text.replace(/\u0000/g, '\uFFFD') : text;
}

/** Raw parameters made storable as jsonb (see withoutNul). */
export function storableParams(params: RawParams): RawParams {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [withoutNul(k), Array.isArray(v) ? v.map(withoutNul) : withoutNul(v)]),
  );
}

function toParams(values: Map<string, string[]>): RawParams {
  // Own data properties, as Object.fromEntries defines them (that, with its arrays, showed per postback): assignment
  // does the same for every name but "__proto__", whose setter would replace the prototype; it is defined instead.
  const out: RawParams = {};
  for (const [k, v] of values) {
    const value = v.length === 1 ? v[0] : v;
    if (k === '__proto__') Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out;
}

const WS = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\]|\\.)*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Members of a JSON object already known to be valid and flat (string/number values), numbers as source text. */
function readFlatMembers(text: string): Map<string, string[]> {
  let pos = 0;
  const skip = () => {
    WS.lastIndex = pos;
    WS.exec(text);
    pos = WS.lastIndex;
  };
  const take = (re: RegExp): string => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`unexpected JSON at ${pos}`); // unreachable after JSON.parse accepted the text
    pos = re.lastIndex;
    return m[0];
  };
  const expect = (ch: string) => {
    skip();
    if (text[pos] !== ch) throw new Error(`expected "${ch}" at ${pos}`);
    pos++;
  };
  const members = new Map<string, string[]>();
  expect('{');
  skip();
  if (text[pos] === '}') return members;
  for (;;) {
    skip();
    const name = JSON.parse(take(STRING)) as string;
    expect(':');
    skip();
    const value = text[pos] === '"' ? (JSON.parse(take(STRING)) as string) : take(NUMBER);
    const list = members.get(name);
    if (list) list.push(value);
    else members.set(name, [value]);
    skip();
    if (text[pos] === ',') {
      pos++;
      continue;
    }
    expect('}');
    return members;
  }
}

/** What the archive keeps in place of a partner's token. */
export const REDACTED = 'REDACTED';

/**
 * The query string or form body with every `token` value replaced: the archive keeps the request exactly otherwise,
 * but a secret in a table many people read is a leaked secret.
 */
export function redactUrlEncodedToken(text: string): string {
  if (!text) return text;
  return text
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq >= 0 ? pair.slice(0, eq) : pair;
      // Most names are plain (no escape, no "+"): they decode to themselves.
      let name = rawName;
      if (rawName.includes('%') || rawName.includes('+')) {
        try {
          name = decodeURIComponent(rawName.replace(/\+/g, ' '));
        } catch {
          name = rawName;
        }
      }
      // Any capitalisation: a partner who wrote "Token=" still sent its secret.
      return name.toLowerCase() === 'token' ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
}

/** A JSON body with the value of every "token" member replaced (string or number). */
export function redactJsonToken(text: string): string {
  return text.replace(/("token"\s*:\s*)("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+)/gi, `$1"${REDACTED}"`);
}
