/**
 * The gateway's HTTP API as OpenAPI 3.1, written by hand next to the controllers it describes; a test checks that
 * every documented path answers and every route is documented.
 */
const money = { $ref: '#/components/schemas/Money' };
const count = { type: 'string', pattern: '^-?\\d+$', description: 'int64 as a decimal string (omitted when 0)' };
const date = { type: 'string', format: 'date', example: '2026-05-01' };

const rangeParams = [
  { name: 'from', in: 'query', schema: date, description: 'First local day, inclusive. Default: 29 days before `to`.' },
  { name: 'to', in: 'query', schema: date, description: 'Last local day, inclusive. Default: today in `tz`.' },
  { name: 'tz', in: 'query', schema: { type: 'string', default: 'UTC', example: 'America/New_York' }, description: 'IANA time zone the days are cut in.' },
];
const formatParam = {
  name: 'format', in: 'query', schema: { type: 'string', enum: ['json', 'csv'], default: 'json' },
  description: 'csv answers text/csv as a download: one line per group and currency, exact decimal amounts.',
};
const grouping = { type: 'string', enum: ['creative', 'offer', 'campaign', 'date'] };

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
const scope = (name: 'reports:read' | 'conversions:read' | 'partners:write') => ({
  security: [{ bearer: [name] }, { apiKey: [name] }],
  'x-required-scope': name,
});
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
      'The dashboards\' HTTP/JSON API over the Trackly services. JSON is proto3 JSON: int64 counters are decimal strings ' +
      'and zero values are omitted. Every Money carries `amount`, the exact decimal string. Ratios named *Ppm are in ' +
      'millionths (120000 = 12%).',
  },
  security: [{ bearer: [] }, { apiKey: [] }],
  paths: {
    '/api/reports/performance': {
      get: {
        summary: 'Sends, clicks, conversions and revenue grouped by one or two dimensions',
        description: 'A key restricted to campaigns/offers gets only their rows (and totals over them).',
        ...scope('reports:read'),
        parameters: [
          { name: 'group_by', in: 'query', required: true, schema: grouping },
          { name: 'then_by', in: 'query', schema: grouping, description: 'Optional second grouping; must differ from group_by.' },
          {
            name: 'date_basis', in: 'query', schema: { type: 'string', enum: ['conversion', 'send'], default: 'conversion' },
            description: 'conversion: each event on its own date; send: clicks and conversions on their message\'s send date (cohort).',
          },
          ...rangeParams,
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
        parameters: [...rangeParams, { name: 'partner', in: 'query', schema: { type: 'string' }, description: 'Only this partner.' }, formatParam],
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
    '/api/partners/{partnerId}/test-postback': {
      post: {
        summary: 'Test with a manual conversion: a real postback through the ingest edge, its answer, the stored conversion and its attribution (null until decided)',
        ...scope('partners:write'),
        parameters: [{ name: 'partnerId', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['token', 'click_id'],
                properties: {
                  token: { type: 'string', description: "The partner's current token (only its hash is stored)" },
                  click_id: { type: 'string' },
                  payout: { type: 'string', example: '24.99', description: 'Decimal; default 1.00' },
                  currency: { type: 'string', example: 'USD', description: "Default: the partner's currency" },
                },
              },
            },
          },
        },
        responses: {
          200: {
            description: 'What happened; an edge refusal (e.g. 401 for a wrong token) is reported in httpStatus, not as an error',
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
    '/api/openapi.json': {
      get: { summary: 'This document', security: [], responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } } },
    },
    '/healthz': { get: { summary: 'Liveness', security: [], responses: { 200: { description: 'The process answers' } } } },
    '/readyz': {
      get: { summary: 'Readiness: every downstream SERVING', security: [], responses: { 200: { description: 'Ready' }, 503: { description: 'A downstream is not serving' } } },
    },
    '/': { get: { summary: 'The dashboard (HTML; the API key is entered in the page)', security: [], responses: { 200: { description: 'text/html' } } } },
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
          revenuePerSend: money, epc: { ...money, description: 'Approved revenue / clicks' }, conversions: count, reversedConversions: count,
        },
      },
      PerformanceRow: {
        type: 'object',
        properties: {
          key: { type: 'string' }, name: { type: 'string' }, key2: { type: 'string' }, name2: { type: 'string' },
          sends: count, clicks: { ...count, description: 'People\'s clicks only (no previews or bots)' }, uniqueClicks: count,
          conversions: { ...count, description: 'Approved or pending' }, reversedConversions: count,
          ctrPpm: { ...count, description: 'clicks / sends in millionths' }, cvrPpm: { ...count, description: 'conversions / clicks in millionths' },
          revenue: { type: 'array', items: { $ref: '#/components/schemas/RevenueTotal' } },
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
