import { createLogger, maskPhoneText, NestPinoLogger, scrubText } from './index';

/** A logger writing its JSON lines into an array, as the apps' loggers write them to stdout. */
function capture() {
  const out: string[] = [];
  const logger = createLogger('test', 'trace', { write: (line: string) => void out.push(line) });
  return { logger, out };
}

const PARTNER_TOKEN = 'pt_9f8e7d6c5b4a39281706';
const API_KEY = 'trk_Zm9vYmFyYmF6cXV4cXV1eGZvb2Jhcg';
const GRPC_TOKEN = 'internal-grpc-token-0123456789abcdef';

describe('createLogger: nothing sensitive in the output', () => {
  it('redacts tokens, keys and authorization headers and masks phone numbers, in fields, nested objects, messages and errors', () => {
    const { logger, out } = capture();
    const url = `/postbacks/tune?token=${PARTNER_TOKEN}&click_id=abc123&payout=24.99`;
    logger.info(
      {
        req: {
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${GRPC_TOKEN}`, 'x-api-key': API_KEY, cookie: 'sid=s3ss10n', 'user-agent': 'partner/1.0' },
        },
        contact: { phoneE164: '+15551234567', phone_masked: '+1***4567' },
        phone: '447700900123',
        config: { GRPC_AUTH_TOKEN: GRPC_TOKEN, GATEWAY_API_KEYS: '[{"name":"x"}]' },
        nextPageToken: 'opaque',
      },
      `postback ${url} from +15551234567 with Bearer ${GRPC_TOKEN}`,
    );
    logger.error({ err: new Error(`GET http://ingest:3002${url} failed for +447700900123 (key ${API_KEY})`) }, 'postback failed');
    logger.warn(`X-API-Key ${API_KEY} refused for https://api.example/x?api_key=${API_KEY}&sig=abcdef`);
    new NestPinoLogger(logger).error(`Bearer ${GRPC_TOKEN}`, `Error: token=${PARTNER_TOKEN}\n    at handler (+15551234567)`);

    const text = out.join('');
    for (const secret of [PARTNER_TOKEN, API_KEY, GRPC_TOKEN, 's3ss10n', '5551234567', '7700900123', 'abcdef']) {
      expect([secret, text.includes(secret)]).toEqual([secret, false]);
    }
    const [first, error, warn, nest] = out.map((l) => JSON.parse(l));
    expect(first.req.url).toBe('/postbacks/tune?token=[REDACTED]&click_id=abc123&payout=24.99');
    expect(first.req.headers).toEqual({ authorization: '[REDACTED]', 'x-api-key': '[REDACTED]', cookie: '[REDACTED]', 'user-agent': 'partner/1.0' });
    expect(first.contact).toEqual({ phoneE164: '+1***4567', phone_masked: '+1***4567' });
    expect(first.phone).toBe('44***0123');
    expect(first.config).toEqual({ GRPC_AUTH_TOKEN: '[REDACTED]', GATEWAY_API_KEYS: '[REDACTED]' });
    expect(first.msg).toBe('postback /postbacks/tune?token=[REDACTED]&click_id=abc123&payout=24.99 from +1***4567 with Bearer [REDACTED]');
    expect(error.err.message).toBe(`GET http://ingest:3002/postbacks/tune?token=[REDACTED]&click_id=abc123&payout=24.99 failed for +4***0123 (key [REDACTED])`);
    expect(error.err.stack).toContain('token=[REDACTED]');
    expect(warn.msg).toBe('X-API-Key [REDACTED] refused for https://api.example/x?api_key=[REDACTED]&sig=[REDACTED]');
    expect(nest.trace).toBe('Error: token=[REDACTED]\n    at handler (+1***4567)');
  });

  it('leaves ordinary content alone', () => {
    const { logger, out } = capture();
    logger.info({ partnerId: 'tune', conversionId: 'tx-1', amountMicros: '24990000', at: '2026-03-10T12:00:00Z', port: 50051 }, 'stored 1 conversion');
    expect(JSON.parse(out[0])).toMatchObject({ partnerId: 'tune', conversionId: 'tx-1', amountMicros: '24990000', port: 50051, msg: 'stored 1 conversion' });
  });
});

describe('scrubText / maskPhoneText', () => {
  it('masks E.164 numbers but not ids, amounts or timestamps', () => {
    expect(scrubText('call +15551234567 or +442071838750.')).toBe('call +1***4567 or +4***8750.');
    expect(scrubText('order 1234567890123 of 24990000 micros at 2026-03-10T12:00:00+01:00')).toBe(
      'order 1234567890123 of 24990000 micros at 2026-03-10T12:00:00+01:00',
    );
    expect(maskPhoneText('+1 (555) 123-4567')).toBe('+1***4567');
    expect(maskPhoneText('123')).toBe('***');
  });
});
