import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, Clock, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import type { SendTestPostbackRequest, SendTestPostbackResponse } from '@trackly/contracts/ingest/v1/ingest_service';
import { ConversionsService } from '../conversions/conversions.service';
import { fillPostbackTemplate, ownEdgeBaseUrl, redactToken } from '../domain/test-postback';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG } from '../ingest.tokens';
import { PartnersService } from '../partners/partners.service';

/** How long the edge may take; it is this very process, so anything longer means it is stuck. */
const EDGE_TIMEOUT_MS = 10_000;

/** "Test with a manual conversion": a real HTTP postback at our own edge, and what became of it. */
@Injectable()
export class TestPostbackService {
  constructor(
    private readonly partners: PartnersService,
    private readonly conversions: ConversionsService,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async send(req: SendTestPostbackRequest): Promise<SendTestPostbackResponse> {
    if (!req.clickId) throw new InvalidArgumentError('click_id', 'is required');
    // Our own listening address rather than INGEST_PUBLIC_URL: the public name may not resolve from inside the
    // cluster (or in tests), and the request still takes the whole edge path: token, allow-list, parsing, archive.
    const base = ownEdgeBaseUrl(this.config.INGEST_HOST, this.config.INGEST_HTTP_PORT);
    // Without the partner's token (the usual case), a one-time credential of ours: only its hash is stored.
    const token = req.token || this.partners.testCredential(req.partnerId);
    const t = await this.partners.templateForTest(req.partnerId, token, base);
    const conversionId = req.conversionId || `test-${randomBytes(6).toString('hex')}`;
    // test=1: stored as a test conversion, never revenue, whichever token authenticated it.
    const url = `${fillPostbackTemplate(t.url, t.clickIdMacro, {
      clickId: req.clickId,
      conversionId,
      payout: req.payout || '1.00',
      currency: req.currency || t.defaultCurrency,
    })}&test=1`;
    const sentAt = this.clock.now();
    const res = await fetch(url, { signal: AbortSignal.timeout(EDGE_TIMEOUT_MS) });
    const body = await res.text();
    const conversion = res.ok ? await this.stored(req.partnerId, body, conversionId) : undefined;
    await this.partners.recordTest(req.partnerId, sentAt, testOutcome(res.status, body));
    return { url: redactToken(url), httpStatus: res.status, responseBody: body, conversionId, conversion };
  }

  /** The edge names the key it stored under (a TUNE goal changes it); fall back to the one sent. */
  private async stored(partnerId: string, body: string, sent: string) {
    let key = sent;
    try {
      const parsed = JSON.parse(body) as { conversion_id?: unknown };
      if (typeof parsed.conversion_id === 'string' && parsed.conversion_id) key = parsed.conversion_id;
    } catch {
      // A text answer: keep the key sent.
    }
    try {
      return await this.conversions.get(partnerId, key);
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }
}

/** "stored" / "duplicate" for a 2xx, else "<status> <the edge's message>". */
function testOutcome(status: number, body: string): string {
  let parsed: { status?: unknown; message?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // A text answer: the status says enough.
  }
  if (status < 300 && typeof parsed.status === 'string') return parsed.status;
  return typeof parsed.message === 'string' ? `${status} ${parsed.message}` : String(status);
}
