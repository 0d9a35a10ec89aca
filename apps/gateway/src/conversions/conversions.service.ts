import { ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { ExplainConversionResponse } from '@trackly/contracts/attribution/v1/attribution_service';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ApiKeyGrant, canSee, isRestricted } from '../domain/api-keys';
import { BodyReader } from '../domain/body';
import { CHECKLIST, diagnose } from '../domain/diagnosis';
import { apiJson } from '../domain/money-json';
import { QueryValue, rejectUnknownParams } from '../domain/performance-query';
import type { AttributionClient, IngestClient } from '../downstream/downstream.providers';
import { ATTRIBUTION_CLIENT, INGEST_CLIENT } from '../gateway.tokens';

const OUTCOMES: Record<string, AttributionState> = {
  attributed: AttributionState.ATTRIBUTION_STATE_ATTRIBUTED,
  unattributed: AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED,
  pending: AttributionState.ATTRIBUTION_STATE_PENDING,
};
const STATUSES: Record<string, ConversionStatus> = {
  approved: ConversionStatus.CONVERSION_STATUS_APPROVED,
  pending: ConversionStatus.CONVERSION_STATUS_PENDING,
  rejected: ConversionStatus.CONVERSION_STATUS_REJECTED,
  reversed: ConversionStatus.CONVERSION_STATUS_REVERSED,
};
/** The reason codes a list can be filtered by: every unattributed reason the checklist knows. */
export const REASONS = Object.keys(CHECKLIST).filter((k) => !k.startsWith('ATTRIBUTED'));
export const LIST_PARAMS = ['partner', 'outcome', 'status', 'reason', 'click_id', 'page_size', 'page_token'] as const;
/** Pages of ingest's list read at most to fill one filtered page (status and reason are filtered here). */
const MAX_SCAN_PAGES = 10;

export interface ListQuery {
  partner?: QueryValue;
  outcome?: QueryValue;
  status?: QueryValue;
  reason?: QueryValue;
  click_id?: QueryValue;
  page_size?: QueryValue;
  page_token?: QueryValue;
}

/** The troubleshooting view of conversions: what ingest stored, what attribution decided, and why. */
@Injectable()
export class ConversionsService {
  constructor(
    @Inject(INGEST_CLIENT) private readonly ingest: IngestClient,
    @Inject(ATTRIBUTION_CLIENT) private readonly attribution: AttributionClient,
  ) {}

  /**
   * "Test with a manual conversion": ingest fires a real postback at its own edge as the partner would; when it was
   * stored, attribution's decision is added if it has one already (it decides asynchronously, so often not yet: null).
   * The partner's token is not asked for: ingest signs the test itself. A caller that holds the token may still pass
   * it (older ingest versions need it).
   */
  async testPostback(partnerId: string, body: unknown) {
    const r = new BodyReader(body, ['click_id', 'payout', 'currency', 'conversion_id', 'token']);
    const req = {
      partnerId,
      token: r.text('token', { max: 200 }),
      clickId: r.text('click_id', { required: true, max: 200 }),
      payout: r.text('payout', { max: 32 }),
      currency: r.text('currency', { max: 3 }),
      conversionId: r.has('conversion_id') ? r.text('conversion_id', { max: 128 }) : undefined,
    };
    r.done();
    const res = await this.ingest.sendTestPostback(req);
    const attribution = res.conversion ? await this.decision(partnerId, res.conversion.conversionId) : null;
    return {
      url: res.url,
      httpStatus: res.httpStatus,
      responseBody: res.responseBody,
      conversionId: res.conversionId,
      conversion: res.conversion ? apiJson(Conversion, res.conversion) : null,
      attribution: attribution ? apiJson(Attribution, attribution) : null,
    };
  }

  /**
   * Conversions newest first, by partner, outcome (ingest filters), partner status and reason (filtered here, reading
   * up to MAX_SCAN_PAGES of ingest's pages to fill one). Not for a key restricted to campaigns: a conversion names
   * no campaign until it is credited.
   */
  async list(query: ListQuery, grant?: ApiKeyGrant) {
    if (isRestricted(grant)) {
      throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: 'the conversion list is not available to an API key restricted to campaigns or offers' });
    }
    rejectUnknownParams(query, LIST_PARAMS);
    const errors: Record<string, string> = {};
    const one = (name: keyof ListQuery): string => {
      const v = query[name];
      if (v === undefined || v === '') return '';
      if (typeof v !== 'string') {
        errors[name] = 'must be given once';
        return '';
      }
      return v.trim();
    };
    const partnerId = one('partner');
    const outcome = one('outcome').toLowerCase();
    const statusText = one('status').toLowerCase();
    const reason = one('reason').toUpperCase();
    const clickId = one('click_id');
    const sizeText = one('page_size');
    const pageToken = one('page_token');
    if (outcome && !Object.hasOwn(OUTCOMES, outcome)) errors.outcome = `must be one of ${Object.keys(OUTCOMES).join(', ')}`;
    if (statusText && !Object.hasOwn(STATUSES, statusText)) errors.status = `must be one of ${Object.keys(STATUSES).join(', ')}`;
    if (reason && !REASONS.includes(reason)) errors.reason = `must be one of ${REASONS.join(', ')}`;
    const pageSize = sizeText ? Number(sizeText) : 50;
    if (!/^\d{1,3}$/.test(sizeText || '50') || pageSize < 1 || pageSize > 200) errors.page_size = 'must be a whole number from 1 to 200';
    if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);

    const wanted = (c: Conversion) =>
      (!statusText || c.status === STATUSES[statusText]) && (!reason || c.attributionReason === reason);
    // A reason implies the unattributed state: ask ingest for those only.
    const state = outcome ? OUTCOMES[outcome] : reason ? AttributionState.ATTRIBUTION_STATE_UNATTRIBUTED : AttributionState.ATTRIBUTION_STATE_UNSPECIFIED;
    const out: Conversion[] = [];
    let token = pageToken;
    let scanned = 0;
    do {
      const page = await this.ingest.listConversions({ partnerId, clickId, attributionState: state, pageSize, pageToken: token });
      out.push(...page.conversions.filter(wanted));
      token = page.nextPageToken;
      scanned++;
    } while (token && out.length < pageSize && (statusText || reason) && scanned < MAX_SCAN_PAGES);
    return { conversions: out.map((c) => apiJson(Conversion, c)), nextPageToken: token };
  }

  private decision(partnerId: string, conversionId: string): Promise<Attribution | null> {
    return this.attribution.getAttribution({ partnerId, conversionId }).then((r) => r.attribution ?? null, notFoundIsNull);
  }

  /**
   * One conversion explained: what ingest stored, attribution's decision and its trace (candidate clicks, window,
   * rule, history), and the checklist. A key restricted to campaigns/offers sees a conversion only when it was
   * credited to one of them; anything else (another campaign's, unattributed, not decided yet, unknown) is the same 404.
   */
  async troubleshoot(partnerId: string, conversionId: string, grant?: ApiKeyGrant) {
    const key = { partnerId, conversionId };
    const [{ conversion }, attribution, explain] = await Promise.all([
      this.ingest.getConversion(key),
      // No decision yet is an answer here, not an error.
      this.attribution.getAttribution(key).then((r) => r.attribution ?? null, notFoundIsNull),
      this.attribution.explainConversion(key).then((r) => r, notFoundIsNull),
    ]);
    if (!conversion || (isRestricted(grant) && !(attribution && canSee(grant, attribution)))) {
      throw new NotFoundError('conversion', `${partnerId}/${conversionId}`);
    }
    return {
      conversion: apiJson(Conversion, conversion),
      attribution: attribution ? apiJson(Attribution, attribution) : null,
      diagnosis: diagnose(conversion, attribution, explain?.matchedClick),
      explain: explain ? apiJson(ExplainConversionResponse, explain) : null,
    };
  }
}

function notFoundIsNull(e: unknown): null {
  if (e instanceof GrpcCallError && e.code === status.NOT_FOUND) return null;
  throw e;
}
