import { Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ApiKeyGrant, canSee, isRestricted } from '../domain/api-keys';
import { diagnose } from '../domain/diagnosis';
import { apiJson } from '../domain/money-json';
import type { AttributionClient, IngestClient } from '../downstream/downstream.providers';
import { ATTRIBUTION_CLIENT, INGEST_CLIENT } from '../gateway.tokens';

/** The troubleshooting view of one conversion: what ingest stored, what attribution decided, and why. */
@Injectable()
export class ConversionsService {
  constructor(
    @Inject(INGEST_CLIENT) private readonly ingest: IngestClient,
    @Inject(ATTRIBUTION_CLIENT) private readonly attribution: AttributionClient,
  ) {}

  /**
   * "Test with a manual conversion": ingest fires a real postback at its own edge; when it was stored, attribution's
   * decision is added if it has one already (it decides asynchronously, so usually not yet: null).
   */
  async testPostback(partnerId: string, body: unknown) {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const fields: Record<string, string> = {};
    const text = (name: string, required: boolean): string => {
      const v = b[name];
      if (v === undefined || v === null || v === '') {
        if (required) fields[name] = 'is required';
        return '';
      }
      if (typeof v !== 'string') fields[name] = 'must be a string';
      return typeof v === 'string' ? v : '';
    };
    const req = { partnerId, token: text('token', true), clickId: text('click_id', true), payout: text('payout', false), currency: text('currency', false) };
    if (Object.keys(fields).length) throw InvalidArgumentError.of(fields);
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

  private decision(partnerId: string, conversionId: string): Promise<Attribution | null> {
    return this.attribution.getAttribution({ partnerId, conversionId }).then(
      (r) => r.attribution ?? null,
      (e: unknown) => {
        if (e instanceof GrpcCallError && e.code === status.NOT_FOUND) return null;
        throw e;
      },
    );
  }

  /**
   * A key restricted to campaigns/offers sees a conversion only when it was credited to one of them; anything else
   * (another campaign's, unattributed, not decided yet, unknown) is the same 404.
   */
  async troubleshoot(partnerId: string, conversionId: string, grant?: ApiKeyGrant) {
    const key = { partnerId, conversionId };
    const [{ conversion }, attribution] = await Promise.all([
      this.ingest.getConversion(key),
      // No decision yet is an answer here, not an error.
      this.attribution.getAttribution(key).then(
        (r) => r.attribution ?? null,
        (e: unknown) => {
          if (e instanceof GrpcCallError && e.code === status.NOT_FOUND) return null;
          throw e;
        },
      ),
    ]);
    if (!conversion || (isRestricted(grant) && !(attribution && canSee(grant, attribution)))) {
      throw new NotFoundError('conversion', `${partnerId}/${conversionId}`);
    }
    return {
      conversion: apiJson(Conversion, conversion),
      attribution: attribution ? apiJson(Attribution, attribution) : null,
      diagnosis: diagnose(conversion, attribution),
    };
  }
}
