import { Inject, Injectable } from '@nestjs/common';
import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { NotFoundError } from '@trackly/kernel';
import { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
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

  async troubleshoot(partnerId: string, conversionId: string) {
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
    if (!conversion) throw new NotFoundError('conversion', `${partnerId}/${conversionId}`);
    return {
      conversion: apiJson(Conversion, conversion),
      attribution: attribution ? apiJson(Attribution, attribution) : null,
      diagnosis: diagnose(conversion, attribution),
    };
  }
}
