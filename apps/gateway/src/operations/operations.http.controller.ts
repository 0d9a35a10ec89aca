import { Body, Controller, Header, HttpCode, HttpException, Inject, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import { InvalidArgumentError } from '@trackly/kernel';
import { ReattributeResponse } from '@trackly/contracts/attribution/v1/attribution_service';
import { ImportConversionsResponse, ReplayPostbacksResponse } from '@trackly/contracts/ingest/v1/ingest_service';
import { RequireScope } from '../auth/api-key.guard';
import { BodyReader } from '../domain/body';
import { apiJson } from '../domain/money-json';
import { QueryValue, rejectUnknownParams } from '../domain/performance-query';
import type { AttributionClient, IngestClient } from '../downstream/downstream.providers';
import { ImportStream, ImportTooLargeError } from '../downstream/import-stream';
import type { GatewayConfig } from '../gateway.config';
import { ATTRIBUTION_CLIENT, GATEWAY_CONFIG, INGEST_CLIENT } from '../gateway.tokens';

const OUTCOMES = ['stored', 'duplicate', 'adjusted', 'reversed', 'invalid', 'unauthorized', 'forbidden', 'not_found', 'error'];

/**
 * Operations that change every campaign's books: CSV import (streamed to ingest), replay of archived postbacks and
 * re-attribution under the current rules. Replay and re-attribution take dry_run (the default): the diff first,
 * then the same request with dry_run false applies it.
 */
@Controller('api/operations')
@RequireScope('operations:write')
export class OperationsHttpController {
  constructor(
    @Inject(INGEST_CLIENT) private readonly ingest: IngestClient,
    @Inject(ATTRIBUTION_CLIENT) private readonly attribution: AttributionClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly importer: ImportStream,
  ) {}

  /**
   * POST /api/operations/import?partner=ID with the CSV file as the body (text/csv): columns click_id,
   * conversion_id, payout, currency, status, occurred_at, header row first. Answers the counts and the refused rows.
   */
  @Post('import')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async import(@Query() query: { partner?: QueryValue }, @Req() req: Request) {
    rejectUnknownParams(query, ['partner']);
    const partner = typeof query.partner === 'string' ? query.partner.trim() : '';
    if (!partner) throw InvalidArgumentError.of({ partner: 'is required (the partner the conversions belong to)' });
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!['text/csv', 'text/plain', 'application/octet-stream'].includes(type)) {
      throw new HttpException({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the CSV file as the body with Content-Type: text/csv' }, 415);
    }
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > this.config.GATEWAY_MAX_IMPORT_BYTES) throw tooLarge(this.config.GATEWAY_MAX_IMPORT_BYTES);
    try {
      return apiJson(ImportConversionsResponse, await this.importer.send(partner, req));
    } catch (e) {
      if (e instanceof ImportTooLargeError) throw tooLarge(this.config.GATEWAY_MAX_IMPORT_BYTES);
      throw e;
    }
  }

  /** Re-processes one partner's archived postbacks received in [from, to) with its current settings. */
  @Post('replay')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async replay(@Body() body: unknown) {
    const r = new BodyReader(body, ['partner', 'from', 'to', 'outcomes', 'limit', 'dry_run']);
    const partnerId = r.text('partner', { required: true, max: 64 });
    const receivedFrom = r.instant('from', true);
    const receivedTo = r.instant('to', true);
    const outcomes = r.strings('outcomes', { max: OUTCOMES.length, itemMax: 20 });
    const bad = outcomes.filter((o) => !OUTCOMES.includes(o));
    if (bad.length) r.errors.outcomes = `unknown outcome(s) ${bad.join(', ')} (known: ${OUTCOMES.join(', ')})`;
    const limit = r.int('limit', 1, 10_000) ?? 0;
    const dryRun = r.bool('dry_run', true);
    if (receivedFrom && receivedTo && receivedFrom >= receivedTo) r.errors.from = 'must be before to';
    r.done();
    const res = await this.ingest.replayPostbacks(
      { partnerId, receivedFrom, receivedTo, dryRun, outcomes, limit },
      { deadlineMs: this.config.GATEWAY_OPERATION_DEADLINE_MS },
    );
    return apiJson(ReplayPostbacksResponse, res);
  }

  /** Re-runs the current rules over decided conversions (a time range and/or an offer): the revenue diff, then apply. */
  @Post('reattribute')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  async reattribute(@Body() body: unknown) {
    const r = new BodyReader(body, ['from', 'to', 'offer', 'limit', 'dry_run']);
    const occurredFrom = r.instant('from', false);
    const occurredTo = r.instant('to', false);
    const offerId = r.text('offer', { max: 128 });
    const limit = r.int('limit', 1, 10_000) ?? 0;
    const dryRun = r.bool('dry_run', true);
    if (!offerId && !(occurredFrom && occurredTo)) r.errors.offer = 'an offer, or a time range (from and to), is required';
    if (occurredFrom && occurredTo && occurredFrom >= occurredTo) r.errors.from = 'must be before to';
    r.done();
    const res = await this.attribution.reattribute(
      { occurredFrom, occurredTo, offerId, dryRun, limit },
      { deadlineMs: this.config.GATEWAY_OPERATION_DEADLINE_MS },
    );
    return apiJson(ReattributeResponse, res);
  }
}

function tooLarge(max: number): HttpException {
  return new HttpException({ error: 'PAYLOAD_TOO_LARGE', message: `the file is larger than ${max} bytes: split it` }, 413);
}
