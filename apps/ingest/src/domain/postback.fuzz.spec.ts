import fc from 'fast-check';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { DomainError, MAX_ABS_MICROS, MICROS_PER_UNIT } from '@trackly/kernel';
import { hiddenCharacterProblem, RawParams } from './conversion.rules';
import type { PartnerKindName } from './partner.rules';
import { bodyKind, mergeParams, parseJsonParams, parseUrlEncoded, redactJsonToken, redactUrlEncodedToken, urlEncodingProblem } from './postback-params';
import { parsePostback, POSTBACK_ALIASES } from './postback.parser';

/**
 * Property tests over the postback readers: whatever arrives, they answer with values or field problems (the domain's
 * validation error at most), never another exception; money comes out as exact integer micros or not at all; and a
 * valid postback, however it is spelled, reads back to the exact micros it was written from.
 */

const RECEIVED_AT = new Date('2026-11-02T10:00:00Z');
const KINDS: PartnerKindName[] = ['GENERIC', 'TUNE', 'EVERFLOW'];
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

// Thousands of cases per property on a shared, loaded machine: generous time, no timing assertion.
jest.setTimeout(120_000);

/** Parameter names a parser interprets, and some that are not. */
const NAMES = [
  ...new Set([
    ...Object.values(POSTBACK_ALIASES).flat(),
    'token', 'ran', 'sale_amount', 'transaction_id', 'event_id', 'goal_id', 'aff_click_id', 'aff_sub2', 'sub1', 'sub3',
    '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', ' ', 'Payout', 'payout[]',
  ]),
];

/** Values that broke parsers somewhere: numbers, encodings, Unicode look-alikes, injection strings. */
const NASTY = [
  '', ' ', '0', '-0', '1e3', 'NaN', 'Infinity', '-Infinity', '0x10', '1,000.00', '9'.repeat(30), '1.1234567', '１２', '-1',
  '24.99', '24,99', '0.000001', '999999999999.999999', '1000000000000', '\u0000', 'a\u0000b', '\r\n', 'USD\r\n', '\u202e',
  '\u200b', '\ufeff', '\ud800', '\udc00', '\uffff', '\ufffd', 'ıdr', 'uſd', 'ＵＳＤ', 'XXX', 'usd', 'chargebac\u212a', 'approved',
  'reversed', 'REFUND', '3', '{payout}', "' OR '1'='1", '<script>', '%00', '%ZZ', '2026-11-02T10:00:00Z', '0001-01-01T00:00:00Z',
  '99999999999', '1793520000', '2026-02-30T00:00:00Z', '+275760-09-13T00:00:00Z', 'x'.repeat(257), 'x'.repeat(5000),
];

const anyValue = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.stringMatching(/^-?\d{0,16}([.,]\d{0,9})?$/),
);
const anyName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) });
const anyEntries = fc.array(
  fc.tuple(anyName, fc.oneof({ weight: 5, arbitrary: anyValue }, { weight: 1, arbitrary: fc.array(anyValue, { minLength: 2, maxLength: 3 }) })),
  { maxLength: 14 },
);
/** A valid postback for every kind (keys under each kind's names), then zero to three hostile changes. */
const nearValid = fc
  .tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.stringMatching(/^\d{1,6}([.,]\d{1,6})?$/), anyEntries.map((e) => e.slice(0, 3)))
  .map(([id, payout, changes]) => ({ conversion_id: id, transaction_id: id, payout, currency: 'EUR', click_id: 'Ab3dEf9h', ...Object.fromEntries(changes) }) as RawParams);
const anyParams: fc.Arbitrary<RawParams> = fc.oneof(anyEntries.map((entries) => Object.fromEntries(entries) as RawParams), nearValid);
const anyContext = fc.record({
  kind: fc.constantFrom(...KINDS),
  clickIdParam: fc.constantFrom(null, 'aff_sub2', 'sub3', 'my_click'),
  defaultCurrency: fc.constantFrom('USD', 'EUR', 'JPY'),
});

/** Runs `fn`; a DomainError of kind INVALID_ARGUMENT counts as an answer, anything else fails the property. */
function answered<T>(fn: () => T): T | DomainError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DomainError && e.kind === 'INVALID_ARGUMENT') return e;
    throw e;
  }
}

describe('postback readers: arbitrary input', () => {
  it('parsePostback answers every parameter set with a conversion or field problems, never an exception', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyParams, anyContext, (params, ctx) => {
        const r = answered(() => parsePostback(params, { ...ctx, receivedAt: RECEIVED_AT }));
        if (r instanceof DomainError) return;
        if (!r.ok) {
          expect(Object.keys(r.fields).length).toBeGreaterThan(0);
          return;
        }
        accepted++;
        const v = r.value;
        // Money: integer micros in range, never a float, in a real currency.
        expect(typeof v.payout.micros).toBe('bigint');
        expect(v.payout.micros >= 0n && v.payout.micros <= MAX_ABS_MICROS).toBe(true);
        expect(v.payout.currency).toMatch(/^[A-Z]{3}$/);
        expect(['XXX', 'XTS']).not.toContain(v.payout.currency);
        if (v.saleAmountMicros !== null) expect(typeof v.saleAmountMicros).toBe('bigint');
        // Keys and ids: no control, invisible or replacement characters, none overlong.
        for (const id of [v.conversionId, v.clickId, v.transactionId, v.eventId]) {
          if (id === null) continue;
          expect(hiddenCharacterProblem(id)).toBeUndefined();
          expect(id.length).toBeLessThanOrEqual(600);
        }
        expect(Number.isNaN(v.occurredAt.getTime())).toBe(false);
        expect(v.occurredAt.getTime() - RECEIVED_AT.getTime()).toBeLessThanOrEqual(86_400_000);
        expect([1, 2, 3, 4]).toContain(v.status);
        // The token is never kept with the conversion.
        expect(Object.keys(v.raw)).not.toContain('token');
        // The raw copy is storable as jsonb (no U+0000).
        expect(JSON.stringify(v.raw)).not.toContain('\\u0000');
      }),
      { numRuns: RUNS },
    );
    // The generator must reach the accepting branch too, or the money checks above would check nothing.
    expect(accepted).toBeGreaterThan(RUNS / 20);
  });

  it('the query/form reader and the encoding check never throw on any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.stringMatching(/^([a-z_%0-9A-F]{0,8}=[%0-9A-Fa-f+.&\-x]{0,16}&?){0,6}$/)),
        (text) => {
          const params = parseUrlEncoded(text);
          expect(typeof params).toBe('object');
          const problem = urlEncodingProblem(text);
          if (problem === undefined) {
            // What the check lets through decodes without U+FFFD being invented by the decoder.
            for (const [k, v] of Object.entries(params)) {
              if (!text.includes('\ufffd') && !text.toLowerCase().includes('%ef%bf%bd')) {
                expect(k.includes('\ufffd')).toBe(false);
                for (const x of [v].flat()) expect(x.includes('\ufffd')).toBe(false);
              }
            }
          }
          expect(typeof redactUrlEncodedToken(text)).toBe('string');
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('the JSON reader answers any text and any JSON document with parameters or problems, never an exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ unit: 'binary', maxLength: 120 }), anyParams.map((p) => JSON.stringify(p))), (text) => {
        const r = parseJsonParams(text);
        if (r.ok) for (const v of Object.values(r.value)) for (const x of [v].flat()) expect(typeof x).toBe('string');
        else expect(Object.keys(r.fields).length).toBeGreaterThan(0);
        expect(typeof redactJsonToken(text)).toBe('string');
      }),
      { numRuns: RUNS },
    );
  });

  it('a whole request (query, body, content type) read and parsed: values or the validation error only', () => {
    fc.assert(
      fc.property(
        anyParams,
        anyParams,
        fc.constantFrom(undefined, 'application/json', 'application/x-www-form-urlencoded', 'text/plain', 'application/json; charset=latin1', ''),
        fc.boolean(),
        anyContext,
        (queryParams, bodyParams, contentType, asJson, ctx) => {
          const encoded = (p: RawParams) => new URLSearchParams(Object.entries(p).flatMap(([k, v]) => [v].flat().map((x): [string, string] => [k, x]))).toString();
          const query = encoded(queryParams);
          const body = asJson ? JSON.stringify(bodyParams) : encoded(bodyParams);
          answered(() => {
            const kind = bodyKind(contentType);
            let fromBody: RawParams = {};
            if (!('unsupported' in kind)) {
              if (kind.kind === 'json') {
                const j = parseJsonParams(body);
                if (!j.ok) return undefined;
                fromBody = j.value;
              } else if (urlEncodingProblem(body) === undefined) fromBody = parseUrlEncoded(body);
            }
            if (urlEncodingProblem(query) !== undefined) return undefined;
            return parsePostback(mergeParams(parseUrlEncoded(query), fromBody), { ...ctx, receivedAt: RECEIVED_AT });
          });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

/** A decimal spelling of `micros`: optional trailing zeros, "," (unless 3 decimals) or "." as the separator, no decimals when whole. */
const spelledAmount = fc
  .tuple(fc.bigInt({ min: 0n, max: MAX_ABS_MICROS }), fc.integer({ min: 0, max: 6 }), fc.constantFrom('.', ','), fc.boolean())
  .map(([micros, extraZeros, sep, padded]) => {
    const whole = (micros / MICROS_PER_UNIT).toString();
    let frac = (micros % MICROS_PER_UNIT).toString().padStart(6, '0').replace(/0+$/, '');
    if (padded) frac = frac.padEnd(Math.min(6, frac.length + extraZeros), '0');
    // A comma before exactly 3 digits is ambiguous (thousands or decimals) and refused (money-spelling.ts): "." there.
    return { micros, text: frac ? `${whole}${sep === ',' && frac.length === 3 ? '.' : sep}${frac}` : whole };
  });

const currencies = Intl.supportedValuesOf('currency');
const STATUS_WORDS: [string, ConversionStatus][] = [
  ['approved', ConversionStatus.CONVERSION_STATUS_APPROVED],
  ['Pending', ConversionStatus.CONVERSION_STATUS_PENDING],
  ['REJECTED', ConversionStatus.CONVERSION_STATUS_REJECTED],
  ['chargeback', ConversionStatus.CONVERSION_STATUS_REVERSED],
  ['2', ConversionStatus.CONVERSION_STATUS_PENDING],
];

describe('postback readers: valid postbacks round-trip', () => {
  it('payout, sale amount, currency, status, key and time come back exactly, from a query string or a JSON body', () => {
    fc.assert(
      fc.property(
        spelledAmount,
        spelledAmount,
        fc.constantFrom(...currencies),
        fc.boolean(),
        fc.constantFrom(...STATUS_WORDS),
        fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$/),
        fc.integer({ min: -729 * 86_400, max: 86_400 }),
        fc.constantFrom('query', 'json-string', 'json-number'),
        (payout, sale, currency, lower, [word, status], key, offsetSeconds, via) => {
          const occurredAt = new Date(RECEIVED_AT.getTime() + offsetSeconds * 1000);
          const fields: Record<string, string> = {
            conversion_id: key,
            click_id: 'Ab3dEf9hIj2LmN0pQr5tUv',
            payout: payout.text,
            sale_amount: sale.text,
            currency: lower ? currency.toLowerCase() : currency,
            status: word,
            occurred_at: occurredAt.toISOString(),
          };
          let params: RawParams;
          if (via === 'query') params = parseUrlEncoded(new URLSearchParams(fields).toString());
          else {
            // JSON numbers keep their digits ("24.50" stays 24.50); a comma is not a JSON number, so send those as strings.
            const asNumber = (t: string) => via === 'json-number' && !t.includes(',');
            const body = `{${Object.entries(fields)
              .map(([k, v]) => `${JSON.stringify(k)}:${(k === 'payout' || k === 'sale_amount') && asNumber(v) ? v : JSON.stringify(v)}`)
              .join(',')}}`;
            const j = parseJsonParams(body);
            if (!j.ok) throw new Error(`valid JSON refused: ${JSON.stringify(j.fields)}`);
            params = j.value;
          }
          const r = parsePostback(params, { receivedAt: RECEIVED_AT, defaultCurrency: 'USD' });
          if (!r.ok) throw new Error(`valid postback refused: ${JSON.stringify(r.fields)} for ${JSON.stringify(fields)}`);
          expect(r.value.payout).toEqual({ currency, micros: payout.micros });
          expect(r.value.saleAmountMicros).toBe(sale.micros);
          expect(r.value.status).toBe(status);
          expect(r.value.conversionId).toBe(key);
          expect(r.value.occurredAt.getTime()).toBe(occurredAt.getTime());
        },
      ),
      { numRuns: RUNS },
    );
  });
});
