/**
 * The gateway's HTTP API as OpenAPI 3.1, written by hand next to the controllers it describes; a test checks that
 * every documented path answers and every route is documented.
 */
import type { Scope } from '../domain/api-keys';

const money = { $ref: '#/components/schemas/Money' };
const count = { type: 'string', pattern: '^-?\\d+$', description: 'int64 as a decimal string (omitted when 0)' };
/** A send- or tap-based figure: null when the row's activityNotApplicable is true (by partner). */
const activity = (description?: string) => ({ ...count, type: ['string', 'null'], ...(description ? { description: `${description}; null by partner` } : {}) });
const activityMoney = (description: string) => ({ oneOf: [money, { type: 'null' }], description: `${description}; null by partner` });
const date = { type: 'string', format: 'date', example: '2026-05-01' };

const rangeParams = [
  { name: 'from', in: 'query', schema: date, description: 'First local day, inclusive. Default: 29 days before `to`.' },
  { name: 'to', in: 'query', schema: date, description: 'Last local day, inclusive. Default: today in `tz`.' },
  { name: 'tz', in: 'query', schema: { type: 'string', default: 'UTC', example: 'America/New_York' }, description: 'IANA time zone the days are cut in.' },
];
const includeTestParam = {
  name: 'include_test', in: 'query', schema: { type: 'string', enum: ['true', 'false'], default: 'false' },
  description: 'Count test conversions too (left out of every figure otherwise).',
};
const formatParam = {
  name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'csv'], default: 'json' },
  description: 'csv answers text/csv as a download: one line per group and currency, exact decimal amounts.',
};
const grouping = { type: 'string', enum: ['creative', 'offer', 'campaign', 'date', 'partner'] };

const errors = {
  400: { description: 'Invalid parameters, per field', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  401: { description: 'Missing or unknown API key', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
  403: {
    description: "The API key does not grant this route's scope (error PERMISSION_DENIED), or the report is not available to a key restricted to campaigns/offers",
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  },
  504: { description: 'A downstream service did not answer within the deadline', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
};
/**
 * The scope an operation needs (OpenAPI 3.1 lets non-OAuth schemes list roles in a security requirement); a key
 * restricted to campaigns/offers sees only their data, other ids answer 404 as if unknown.
 */
const scope = (name: Scope) => ({
  security: [{ bearer: [name] }, { apiKey: [name] }],
  'x-required-scope': name,
});
const jsonBody = (schema: object, required = true) => ({ required, content: { 'application/json': { schema } } });
const obj = { type: 'object' };
const okObject = (description = 'OK') => ({ 200: { description, content: { 'application/json': { schema: obj } } } });
const idList = (what: string) => ({
  name: what, in: 'query', schema: { type: 'array', items: { type: 'string' } }, style: 'form', explode: true,
  description: `Only these ${what}s (repeat the parameter or separate ids with commas).`,
});
const partnerSettings = {
  name: { type: 'string' }, kind: { type: 'string', enum: ['tune', 'everflow', 'generic'] },
  click_id_param: { type: 'string', description: "Parameter carrying our click id; empty = the kind's default" },
  default_currency: { type: 'string', example: 'USD' },
  allowed_sources: { type: 'array', items: { type: 'string' }, description: 'Allow-list: IPs, CIDR, TUNE ranges (192.0.2.0-255); empty = any address' },
  time_zone: { type: 'string', example: 'America/New_York', description: "IANA zone of the partner's account: TUNE {datetime} (no offset) is read in it; empty = UTC" },
};
const partnerPath = { name: 'partnerId', in: 'path', required: true, schema: { type: 'string' } };
const endpointPath = { name: 'endpointId', in: 'path', required: true, schema: { type: 'string' } };
const endpointSettings = {
  name: { type: 'string' },
  kind: { type: 'string', enum: ['webhook', 'postback'], description: 'webhook: signed JSON POST (Standard Webhooks); postback: GET of the URL template' },
  url: { type: 'string', description: 'Webhook URL, or postback template with macros such as {click_id}, {payout}, {currency}, {status} (docs/delivery.md)' },
  event_types: { type: 'array', items: { type: 'string', enum: ['conversion.attributed', 'conversion.unattributed', 'conversion.adjusted', 'conversion.reversed', 'click.recorded'] } },
  campaign_ids: { type: 'array', items: { type: 'string' } },
  offer_ids: { type: 'array', items: { type: 'string' } },
  partner_ids: { type: 'array', items: { type: 'string' } },
  active: { type: 'boolean', default: true },
  rate_limit_per_second: { type: 'integer', minimum: 1, maximum: 10000, description: 'Default 50' },
  timeout_ms: { type: 'integer', minimum: 100, maximum: 30000, description: 'Default 10000' },
};
const notFound = { 404: { description: 'Unknown id', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } } };
const ok = (schema: string, csv = true) => ({
  200: {
    description: 'OK',
    content: {
      'application/json': { schema: { $ref: `#/components/schemas/${schema}` } },
      ...(csv ? { 'text/csv': { schema: { type: 'string' } } } : {}),
    },
  },
});

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Trackly gateway',
    version: '1.0.0',
    description:
      "The console's HTTP/JSON API over the Trackly services. JSON is proto3 JSON: int64 counters are decimal strings " +
      'and zero values are omitted. Every Money carries `amount`, the exact decimal string. Ratios named *Ppm are in ' +
      'millionths (120000 = 12%). Every error, a path that is no route included (404), is { error, message, fields? }; a ' +
      'URL longer than GATEWAY_MAX_URL_BYTES is answered 414.',
  },
  security: [{ bearer: [] }, { apiKey: [] }],
  paths: {
    '/api/reports/performance': {
      get: {
        summary: 'Sends, clicks, conversions and revenue grouped by one or two dimensions',
        description:
          'A key restricted to campaigns/offers gets only their rows (and totals over them); its own campaign/offer filters ' +
          'narrow that, and ids outside the grant are a 403. Unknown parameters are a 400. Sends and taps have no partner: ' +
          'grouped (group_by or then_by) or filtered by partner, every row and the total carry activityNotApplicable: true, ' +
          'their sends, clicks, uniqueClicks, taps, ctrPpm and cvrPpm are null and each revenue total\'s revenuePerSend and ' +
          'epc are null (in CSV: n/a); conversion figures stay exact. Rows by partner have no name (GET /api/partners has them).',
        ...scope('reports:read'),
        parameters: [
          { name: 'group_by', in: 'query', required: true, schema: grouping },
          { name: 'then_by', in: 'query', schema: grouping, description: 'Optional second grouping; must differ from group_by.' },
          {
            name: 'date_basis', in: 'query', schema: { type: 'string', enum: ['conversion', 'send'], default: 'conversion' },
            description: 'conversion: each event on its own date; send: clicks and conversions on their message\'s send date (cohort).',
          },
          ...rangeParams,
          idList('campaign'),
          idList('offer'),
          { ...idList('creative'), description: 'Only these creatives.' },
          { ...idList('partner'), description: 'Only conversions reported by these partners; send- and tap-based figures are then null (not applicable).' },
          includeTestParam,
          {
            name: 'reporting_currency', in: 'query', schema: { type: 'string', example: 'USD' },
            description: 'Also convert each row\'s revenue into this currency: each conversion at the latest FX rate on or before its UTC day (PUT /api/fx-rates); conversions without one are counted in converted.fxMissing, not in the sums.',
          },
          formatParam,
        ],
        responses: { ...ok('PerformanceReport'), ...errors },
      },
    },
    '/api/reports/reconciliation': {
      get: {
        summary: 'Per partner, local day and currency: received vs credited vs reversed vs unattributed by reason vs pending',
        description: 'Not available to a key restricted to campaigns/offers (403).',
        ...scope('reports:read'),
        parameters: [
          ...rangeParams, { name: 'partner', in: 'query', schema: { type: 'string' }, description: 'Only this partner.' }, includeTestParam, formatParam,
        ],
        responses: { ...ok('ReconciliationReport'), ...errors },
      },
    },
    '/api/reports/maturity': {
      get: {
        summary: 'Revenue per send of a send cohort (messages sent on these days) within 1, 7, 30 and 90 days of each send',
        description: 'Not available to a key restricted to campaigns/offers (403).',
        ...scope('reports:read'),
        parameters: [
          ...rangeParams,
          { name: 'group_by', in: 'query', schema: { type: 'string', enum: ['creative', 'offer', 'campaign'] }, description: 'Optional; the total is always given.' },
          includeTestParam,
          formatParam,
        ],
        responses: { ...ok('CohortMaturity'), ...errors },
      },
    },
    '/api/reports/messages/{messageId}': {
      get: {
        summary: 'One message: sent to, clicked, conversions, revenue',
        description: 'A key restricted to campaigns/offers gets 404 for a message outside them.',
        ...scope('reports:read'),
        parameters: [{ name: 'messageId', in: 'path', required: true, schema: { type: 'string' } }, formatParam],
        responses: { ...ok('MessageReport'), ...errors, ...notFound },
      },
    },
    '/api/reports/contacts/{contactId}/journey': {
      get: {
        summary: 'One contact\'s messages, clicks and conversions in time order',
        description: 'Not available to a key restricted to campaigns/offers (403).',
        ...scope('reports:read'),
        parameters: [{ name: 'contactId', in: 'path', required: true, schema: { type: 'string' } }, formatParam],
        responses: { ...ok('ContactJourney'), ...errors, ...notFound },
      },
    },
    '/api/conversions/{partnerId}/{conversionId}': {
      get: {
        summary: 'One conversion with its attribution and a diagnosis (click id matched? in window? already attributed?)',
        description: 'A key restricted to campaigns/offers gets 404 unless the conversion was credited to one of them.',
        ...scope('conversions:read'),
        parameters: [
          { name: 'partnerId', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'conversionId', in: 'path', required: true, schema: { type: 'string' } },
        ],
        responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } }, ...errors, ...notFound },
      },
    },
    '/api/me': {
      get: {
        summary: 'What the presented API key may do: its name, scopes and campaign/offer restriction (open: no keys configured)',
        security: [{ bearer: [] }, { apiKey: [] }],
        'x-required-scope': 'any key',
        responses: {
          200: {
            description: 'OK',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    name: { type: ['string', 'null'] }, open: { type: 'boolean' }, scopes: { type: 'array', items: { type: 'string' } },
                    campaigns: { type: 'array', items: { type: 'string' } }, offers: { type: 'array', items: { type: 'string' } },
                  },
                },
              },
            },
          },
          401: errors[401],
        },
      },
    },
    '/api/conversions': {
      get: {
        summary: 'Conversions newest first, by partner, outcome, partner status and reason; paged',
        description: 'Not available to a key restricted to campaigns/offers (403). Unknown parameters are a 400.',
        ...scope('conversions:read'),
        parameters: [
          { name: 'partner', in: 'query', schema: { type: 'string' } },
          { name: 'outcome', in: 'query', schema: { type: 'string', enum: ['attributed', 'unattributed', 'pending'] } },
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['approved', 'pending', 'rejected', 'reversed'] } },
          { name: 'reason', in: 'query', schema: { type: 'string', example: 'UNKNOWN_CLICK_ID' } },
          { name: 'click_id', in: 'query', schema: { type: 'string' } },
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' } },
        ],
        responses: { ...okObject('{ conversions, nextPageToken }'), ...errors },
      },
    },
    '/api/partners': {
      get: {
        summary: 'Partners by id with their counters (never a token), one page at a time',
        ...scope('partners:read'),
        parameters: [
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' }, description: 'next_page_token of the previous page' },
        ],
        responses: { ...okObject('{ partners, next_page_token }'), ...errors },
      },
      post: {
        summary: 'Registers a partner; the answer holds its token, shown this once, and its postback URL',
        ...scope('partners:write'),
        requestBody: jsonBody({ type: 'object', required: ['partner_id', 'kind'], properties: { partner_id: { type: 'string' }, ...partnerSettings } }),
        responses: { ...okObject('{ partner, token, template }'), 409: { description: 'The id is taken' }, ...errors },
      },
    },
    '/api/partners/{partnerId}': {
      get: {
        summary: 'One partner: settings, counters and its postback URL (a placeholder where the token goes)',
        ...scope('partners:read'), parameters: [partnerPath], responses: { ...okObject('{ partner, counters, template }'), ...errors, ...notFound },
      },
      put: {
        summary: "Replaces a partner's settings (allow-list included); the token stays",
        ...scope('partners:write'), parameters: [partnerPath],
        requestBody: jsonBody({ type: 'object', required: ['kind'], properties: partnerSettings }),
        responses: { ...okObject('{ partner }'), ...errors, ...notFound },
      },
    },
    '/api/partners/{partnerId}/rotate-token': {
      post: {
        summary: 'A new token (the old one stops at once), shown in this answer only, with the postback URL carrying it',
        ...scope('partners:write'), parameters: [partnerPath], responses: { ...okObject('{ partner, token, template }'), ...errors, ...notFound },
      },
    },
    '/api/partners/{partnerId}/test-postback': {
      post: {
        summary: 'Test with a manual conversion: a real postback through the ingest edge, its answer, the stored conversion and its attribution (null until decided)',
        description: "Needs partners:test, not the partner's token: ingest authenticates its own test postback (a one-time credential) and sends it as the partner would, with test=1. The conversion is stored as a test (conversion.test true, never revenue); the partner's status (GET /api/partners/{partnerId}) shows lastTestPostbackAt and lastTestPostbackOutcome.",
        ...scope('partners:test'),
        parameters: [partnerPath],
        requestBody: jsonBody({
          type: 'object',
          required: ['click_id'],
          properties: {
            click_id: { type: 'string' },
            payout: { type: 'string', example: '24.99', description: 'Decimal; default 1.00' },
            currency: { type: 'string', example: 'USD', description: "Default: the partner's currency" },
            conversion_id: { type: 'string', description: 'Default: test-<random>' },
            token: { type: 'string', description: 'Optional: only for an ingest that cannot sign tests itself' },
          },
        }),
        responses: {
          200: {
            description: 'What happened; an edge refusal (e.g. 403 for an address outside the allow-list) is reported in httpStatus, not as an error',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    url: { type: 'string', description: 'URL called, token redacted' }, httpStatus: { type: 'integer' }, responseBody: { type: 'string' },
                    conversionId: { type: 'string' }, conversion: { type: ['object', 'null'] }, attribution: { type: ['object', 'null'] },
                  },
                },
              },
            },
          },
          ...errors,
          ...notFound,
        },
      },
    },
    '/api/offers': {
      get: {
        summary: 'Offers with all their terms, a page at a time (page_size 1..500, default 50; page_token from the previous page). A key restricted to offers gets exactly those.',
        ...scope('offers:read'), responses: { ...okObject(), ...errors },
      },
    },
    '/api/offers/{offerId}': {
      get: {
        summary: "One offer's terms (404 for an unknown offer or one outside the key's offers)", ...scope('offers:read'),
        parameters: [{ name: 'offerId', in: 'path', required: true, schema: { type: 'string' } }], responses: { ...okObject(), ...errors, ...notFound },
      },
      put: {
        summary: "Creates or replaces an offer's terms (every field: one left out is unset)",
        ...scope('offers:write'),
        parameters: [{ name: 'offerId', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: jsonBody({
          type: 'object',
          required: ['name', 'destination_url_template', 'default_payout', 'currency'],
          properties: {
            name: { type: 'string' }, destination_url_template: { type: 'string', description: 'http(s) URL with {click_id}' },
            default_payout: { type: 'string', example: '24.99' }, currency: { type: 'string', example: 'USD' },
            click_window_days: { type: ['integer', 'null'], minimum: 1, maximum: 365, description: 'Unset: 90' },
            min_conversion_seconds: { type: ['integer', 'null'], minimum: 0, maximum: 86400 },
            view_through_window_days: { type: ['integer', 'null'], minimum: 1, maximum: 90, description: 'Unset: view-through off' },
          },
        }),
        responses: { ...okObject('{ offer, created }'), ...errors },
      },
    },
    '/api/messages': {
      get: {
        summary: 'Messages, newest send first, by campaign/creative with clicked/taps/converted/revenue, cursor-paged',
        description: 'A key restricted to campaigns lists one of its campaigns at a time (campaign=…); one restricted to offers is refused (403).',
        ...scope('reports:read'),
        parameters: [
          { name: 'campaign', in: 'query', schema: { type: 'string' } }, { name: 'creative', in: 'query', schema: { type: 'string' } },
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' }, description: 'nextPageToken of the previous page (bound to the same filters)' },
        ],
        responses: { ...okObject('{ messages: [{ messageId, contactId, phoneMasked, campaignId, creativeId, offerId, sentAt, clicked, taps, converted, revenue }], nextPageToken }'), ...errors },
      },
    },
    '/api/contacts': {
      get: {
        summary: 'Contacts by id, by campaign and id prefix, with messages/engagements/conversions/approved revenue (test conversions excluded)/last activity, cursor-paged',
        description: 'Counts are within the campaign when one is given. A key restricted to campaigns lists one of its campaigns at a time (campaign=…); one restricted to offers is refused (403).',
        ...scope('reports:read'),
        parameters: [
          { name: 'campaign', in: 'query', schema: { type: 'string' } },
          { name: 'search', in: 'query', schema: { type: 'string' }, description: 'Contact id prefix (case-sensitive)' },
          { name: 'page_size', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' }, description: 'nextPageToken of the previous page (bound to the same filters)' },
        ],
        responses: { ...okObject('{ contacts: [{ contactId, messages, engagements, conversions, revenue, lastActivityAt }], nextPageToken }'), ...errors },
      },
    },
    '/api/fx-rates': {
      put: {
        summary: 'Stores dated FX rates (JSON list of {day, currency, quote, rate}; rate = units of quote per 1 currency, decimal, at most 6 decimals): all rows or none',
        description: 'A day\'s rate for a pair replaces the stored one. A refused batch answers 400 naming each row (`rates[i].field`) and stores nothing.',
        ...scope('operations:write'),
        requestBody: jsonBody({
          type: 'array',
          items: {
            type: 'object', required: ['day', 'currency', 'quote', 'rate'],
            properties: { day: date, currency: { type: 'string', example: 'EUR' }, quote: { type: 'string', example: 'USD' }, rate: { type: 'string', example: '1.0843' } },
          },
        }),
        responses: { ...okObject('{ stored }'), ...errors },
      },
      get: {
        summary: 'FX rates by quote currency, currency and day range',
        ...scope('reports:read'),
        parameters: [
          { name: 'quote', in: 'query', schema: { type: 'string', example: 'USD' } }, { name: 'currency', in: 'query', schema: { type: 'string', example: 'EUR' } },
          { name: 'from', in: 'query', schema: date }, { name: 'to', in: 'query', schema: date },
        ],
        responses: { ...okObject('{ rates: [{ day, currency, quote, rate, rateMicros }] }'), ...errors },
      },
    },
    '/api/fx-rates/csv': {
      post: {
        summary: 'Stores dated FX rates from a CSV file (the body, text/csv; header day,currency,quote,rate): all rows or none, refused rows named by line number',
        ...scope('operations:write'),
        requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string', description: 'day,currency,quote,rate' } } } },
        responses: { ...okObject('{ stored }'), 413: { description: 'Larger than 1 MiB' }, 415: { description: 'Not text/csv' }, ...errors },
      },
    },
    '/api/operations/import': {
      post: {
        summary: 'Imports conversions from a CSV file (the body, text/csv), streamed to ingest: counts and the refused rows with their line numbers',
        ...scope('operations:write'),
        parameters: [{ name: 'partner', in: 'query', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string', description: 'click_id,conversion_id,payout,currency,status,occurred_at' } } } },
        responses: { ...okObject('{ rows, stored, duplicates, adjusted, rejected, errors: [{ line, message }] }'), 413: { description: 'Larger than GATEWAY_MAX_IMPORT_BYTES' }, 415: { description: 'Not text/csv' }, ...errors },
      },
    },
    '/api/operations/replay': {
      post: {
        summary: "Replays one partner's archived postbacks with its current settings: dry run (default) first, then dry_run false",
        ...scope('operations:write'),
        requestBody: jsonBody({
          type: 'object', required: ['partner', 'from', 'to'],
          properties: {
            partner: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' },
            outcomes: { type: 'array', items: { type: 'string' } }, limit: { type: 'integer' }, dry_run: { type: 'boolean', default: true },
          },
        }),
        responses: { ...okObject('ReplayPostbacksResponse'), ...errors, ...notFound },
      },
    },
    '/api/operations/reattribute': {
      post: {
        summary: 'Re-runs the current rules over decided conversions (time range and/or offer): the revenue diff per offer and message (dry run, default), then apply',
        ...scope('operations:write'),
        requestBody: jsonBody({
          type: 'object',
          properties: {
            from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' }, offer: { type: 'string' },
            limit: { type: 'integer' }, dry_run: { type: 'boolean', default: true },
          },
        }),
        responses: { ...okObject('ReattributeResponse'), ...errors },
      },
    },
    '/api/openapi.json': {
      get: { summary: 'This document', security: [], responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } } },
    },
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'The process answers' } } } },
    '/readyz': {
      get: { summary: 'Readiness: every downstream SERVING', security: [], responses: { 200: { description: 'Ready' }, 503: { description: 'A downstream is not serving' } } },
    },
    '/api/delivery/endpoints': {
      get: { summary: 'Outbound webhook and postback endpoints (never a secret)', ...scope('webhooks:read'), responses: { ...okObject('{ endpoints }'), ...errors } },
      post: {
        summary: 'Creates an endpoint; the answer holds its signing secret (whsec_...), shown this once',
        ...scope('webhooks:write'),
        requestBody: jsonBody({ type: 'object', required: ['endpoint_id', 'kind', 'url', 'event_types'], properties: { endpoint_id: { type: 'string' }, ...endpointSettings } }),
        responses: { ...okObject('{ endpoint, secret }'), 409: { description: 'The id is taken' }, ...errors },
      },
    },
    '/api/delivery/endpoints/{endpointId}': {
      get: { summary: 'One endpoint', ...scope('webhooks:read'), parameters: [endpointPath], responses: { ...okObject('{ endpoint }'), ...errors, ...notFound } },
      put: {
        summary: "Replaces an endpoint's settings (its secret stays); active: true resumes an automatically disabled one",
        ...scope('webhooks:write'), parameters: [endpointPath],
        requestBody: jsonBody({ type: 'object', required: ['kind', 'url', 'event_types'], properties: endpointSettings }),
        responses: { ...okObject('{ endpoint }'), ...errors, ...notFound },
      },
      delete: { summary: 'Deletes an endpoint; its pending deliveries fail, its log stays', ...scope('webhooks:write'), parameters: [endpointPath], responses: { ...okObject('{ deleted, pending_failed }'), ...errors, ...notFound } },
    },
    '/api/delivery/endpoints/{endpointId}/rotate-secret': {
      post: {
        summary: 'A new signing secret, shown in this answer only; the previous one still signs during the overlap (both signatures sent)',
        ...scope('webhooks:write'), parameters: [endpointPath],
        requestBody: jsonBody({ type: 'object', properties: { overlap_seconds: { type: 'integer', minimum: 0, maximum: 2592000, description: '0 = the default (24 h)' } } }, false),
        responses: { ...okObject('{ endpoint, secret }'), ...errors, ...notFound },
      },
    },
    '/api/delivery/endpoints/{endpointId}/deliveries': {
      get: {
        summary: 'The delivery log, newest first: status, attempts, last status code, latency, error',
        ...scope('webhooks:read'),
        parameters: [
          endpointPath,
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['pending', 'delivered', 'failed'] } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
          { name: 'page_token', in: 'query', schema: { type: 'string' } },
        ],
        responses: { ...okObject('{ deliveries, next_page_token }'), ...errors },
      },
    },
    '/api/delivery/endpoints/{endpointId}/deliveries/{deliveryId}/attempts': {
      get: {
        summary: 'Every attempt of one delivery',
        ...scope('webhooks:read'),
        parameters: [endpointPath, { name: 'deliveryId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
        responses: { ...okObject('{ attempts }'), ...errors },
      },
    },
    '/api/delivery/endpoints/{endpointId}/redeliver': {
      post: {
        summary: 'Sends again with the same webhook-id: one delivery, or every delivery created in [from, to)',
        ...scope('webhooks:write'), parameters: [endpointPath],
        requestBody: jsonBody({ type: 'object', properties: { delivery_id: { type: 'string' }, from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } }),
        responses: { ...okObject('{ queued }'), ...errors, ...notFound },
      },
    },
    '/': {
      get: {
        summary: 'The console (HTML; the API key is entered in the page). Any other GET for text/html outside /api answers the same page (its own addresses)',
        security: [], responses: { 200: { description: 'text/html' }, 503: { description: 'The console is not built' } },
      },
    },
    '/assets/{file}': {
      get: { summary: "The console's hashed scripts and styles (cached for a year)", security: [], parameters: [{ name: 'file', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'OK' }, 404: { description: 'No such file' } } },
    },
    '/favicon.svg': { get: { summary: "The console's icon", security: [], responses: { 200: { description: 'image/svg+xml' } } } },
  },
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    },
    schemas: {
      Error: {
        type: 'object',
        required: ['error', 'message'],
        properties: { error: { type: 'string', example: 'INVALID_ARGUMENT' }, message: { type: 'string' }, fields: { type: 'object', additionalProperties: { type: 'string' } } },
      },
      Money: {
        type: 'object',
        properties: {
          currencyCode: { type: 'string', example: 'USD' },
          amountMicros: { type: 'string', example: '24990000' },
          amount: { type: 'string', example: '24.99', description: 'Exact decimal of amountMicros' },
        },
      },
      RevenueTotal: {
        type: 'object',
        description: 'One currency of a row',
        properties: {
          revenue: { ...money, description: 'Approved revenue' }, pendingRevenue: money, reversed: money,
          revenuePerSend: activityMoney('Approved revenue / sends'), epc: activityMoney('Approved revenue / engagements (clicks)'), conversions: count,
          reversedConversions: count,
          clickRevenue: { ...money, description: 'Approved revenue credited to a click: revenue minus viewThroughRevenue' },
          viewThroughRevenue: { ...money, description: 'Approved revenue credited view-through (no click)' }, viewThroughConversions: count,
          cappedRevenue: { ...money, description: 'Pending revenue credited over a cap (part of pendingRevenue)' }, cappedConversions: count,
          heldRevenue: { ...money, description: 'Pending revenue under a hold period ending after now (part of pendingRevenue)' }, heldConversions: count,
          testRevenue: { ...money, description: 'Test conversions\' approved and pending revenue included (include_test=true only)' }, testConversions: count,
        },
      },
      PerformanceRow: {
        type: 'object',
        properties: {
          key: { type: 'string' }, name: { type: 'string' }, key2: { type: 'string' }, name2: { type: 'string' },
          sends: activity('Messages sent'),
          clicks: activity('Engagements: messages clicked, each once, on its first person\'s tap (no previews or bots)'),
          uniqueClicks: activity('The same number as clicks (kept for older readers)'),
          taps: activity('Every person\'s tap, repeat taps of a message included'),
          conversions: { ...count, description: 'Approved or pending' }, reversedConversions: count,
          ctrPpm: activity('engagements (clicks) / sends in millionths'),
          cvrPpm: activity('conversions / engagements (clicks) in millionths'),
          activityNotApplicable: {
            type: 'boolean',
            description: 'Grouped or filtered by partner: sends and taps have no partner, so the send- and tap-based figures above are null (omitted when false)',
          },
          revenue: { type: 'array', items: { $ref: '#/components/schemas/RevenueTotal' } },
          converted: {
            type: 'object',
            description: 'With reporting_currency only: revenue converted (each conversion at its day\'s rate, rounded half-even to micros, then summed)',
            properties: {
              revenue: money, pendingRevenue: money, reversed: money, conversions: count,
              firstRateDay: { type: 'string', description: 'Earliest rate day used' }, lastRateDay: { type: 'string', description: 'Latest rate day used' },
              fxMissing: {
                type: 'array', description: 'Conversions with no rate on or before their day, per original currency (left out of the sums)',
                items: { type: 'object', properties: { amount: money, conversions: count, firstDay: { type: 'string' }, lastDay: { type: 'string' } } },
              },
            },
          },
        },
      },
      PerformanceReport: {
        type: 'object',
        properties: {
          rows: { type: 'array', items: { $ref: '#/components/schemas/PerformanceRow' } },
          total: { $ref: '#/components/schemas/PerformanceRow' },
          timeZone: { type: 'string' },
          thenBy: { type: 'string', example: 'REPORT_GROUPING_DATE' },
          dateBasis: { type: 'string', example: 'DATE_BASIS_CONVERSION' },
        },
      },
      ReconciliationCount: { type: 'object', properties: { count, amount: money } },
      CohortMaturityRow: {
        type: 'object',
        properties: {
          key: { type: 'string' }, name: { type: 'string' }, sends: count,
          points: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                days: { type: 'integer', enum: [1, 7, 30, 90] },
                revenue: { type: 'array', items: money, description: 'Approved revenue within `days` of the send, per currency' },
                revenuePerSend: { type: 'array', items: money },
              },
            },
          },
        },
      },
      CohortMaturity: {
        type: 'object',
        properties: {
          rows: { type: 'array', items: { $ref: '#/components/schemas/CohortMaturityRow' } },
          total: { $ref: '#/components/schemas/CohortMaturityRow' },
          timeZone: { type: 'string' },
        },
      },
      ReconciliationReport: {
        type: 'object',
        properties: {
          timeZone: { type: 'string' },
          rows: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                partnerId: { type: 'string' }, date, currencyCode: { type: 'string' },
                received: { $ref: '#/components/schemas/ReconciliationCount' },
                receivedPendingStatus: { $ref: '#/components/schemas/ReconciliationCount' },
                credited: { $ref: '#/components/schemas/ReconciliationCount' },
                reversed: { $ref: '#/components/schemas/ReconciliationCount' },
                pending: { $ref: '#/components/schemas/ReconciliationCount' },
                receivedDirect: { $ref: '#/components/schemas/ReconciliationCount', description: 'Of received: sent straight to attribution (AttributeConversion)' },
                creditedOverCap: { $ref: '#/components/schemas/ReconciliationCount', description: 'Of credited: over a cap, held pending' },
                held: { $ref: '#/components/schemas/ReconciliationCount', description: 'Of credited: pending under a hold period ending later' },
                test: { $ref: '#/components/schemas/ReconciliationCount', description: 'Of received: test conversions (include_test=true only)' },
                unattributed: {
                  type: 'array',
                  items: { type: 'object', properties: { reason: { type: 'string' }, total: { $ref: '#/components/schemas/ReconciliationCount' } } },
                },
              },
            },
          },
        },
      },
      MessageReport: {
        type: 'object',
        properties: {
          messageId: { type: 'string' }, contactId: { type: 'string' }, phoneMasked: { type: 'string' }, campaignId: { type: 'string' },
          creativeId: { type: 'string' }, offerId: { type: 'string' }, sentAt: { type: 'string', format: 'date-time' }, clicked: { type: 'boolean' },
          firstClickedAt: { type: 'string', format: 'date-time' }, clickCount: count,
          clickTimes: { type: 'array', items: { type: 'string', format: 'date-time' }, description: 'Every click, oldest first' },
          conversions: { type: 'array', items: { type: 'object' } }, revenue: { type: 'array', items: money },
        },
      },
      ContactJourney: {
        type: 'object',
        properties: {
          contactId: { type: 'string' }, messagesReceived: count, clicks: count, conversions: count,
          totalRevenue: { type: 'array', items: money },
          events: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                kind: { type: 'string', enum: ['JOURNEY_EVENT_KIND_MESSAGE_SENT', 'JOURNEY_EVENT_KIND_CLICK', 'JOURNEY_EVENT_KIND_CONVERSION'] },
                at: { type: 'string', format: 'date-time' }, messageId: { type: 'string' }, clickId: { type: 'string' },
                offerId: { type: 'string' }, conversionId: { type: 'string' }, payout: money,
              },
            },
          },
        },
      },
    },
  },
} as const;
