import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InvalidArgumentError, NotFoundError } from '@trackly/kernel';
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
  ) {}

  async send(req: SendTestPostbackRequest): Promise<SendTestPostbackResponse> {
    if (!req.token) throw new InvalidArgumentError('token', 'is required (only its hash is stored)');
    if (!req.clickId) throw new InvalidArgumentError('click_id', 'is required');
    // Our own listening address rather than INGEST_PUBLIC_URL: the public name may not resolve from inside the
    // cluster (or in tests), and the request still takes the whole edge path: token, allow-list, parsing, archive.
    const base = ownEdgeBaseUrl(this.config.INGEST_HOST, this.config.INGEST_HTTP_PORT);
    const t = await this.partners.templateForTest(req.partnerId, req.token, base);
    const conversionId = req.conversionId || `test-${randomBytes(6).toString('hex')}`;
    const url = fillPostbackTemplate(t.url, t.clickIdMacro, {
      clickId: req.clickId,
      conversionId,
      payout: req.payout || '1.00',
      currency: req.currency || t.defaultCurrency,
    });
    const res = await fetch(url, { signal: AbortSignal.timeout(EDGE_TIMEOUT_MS) });
    const body = await res.text();
    return { url: redactToken(url), httpStatus: res.status, responseBody: body, conversionId, conversion: res.ok ? await this.stored(req.partnerId, body, conversionId) : undefined };
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
