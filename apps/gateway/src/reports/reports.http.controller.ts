import { Controller, ForbiddenException, Get, Header, Inject, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CLOCK, Clock, NotFoundError } from '@trackly/kernel';
import {
  GetCohortMaturityResponse,
  GetContactJourneyResponse,
  GetMessageReportResponse,
  GetReconciliationReportResponse,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { Grant, RequireScope } from '../auth/api-key.guard';
import { ApiKeyGrant, canSee, isRestricted, scopedFilter } from '../domain/api-keys';
import { journeyCsv, maturityCsv, messageCsv, performanceCsv, reconciliationCsv } from '../domain/csv';
import { apiJson } from '../domain/money-json';
import { PerformanceJson } from '../domain/performance-json';
import {
  parseFormat,
  parseMaturityQuery,
  parsePerformanceFilters,
  parsePerformanceQuery,
  parseReconciliationQuery,
  PerformanceQuery,
  QueryValue,
  RangeQuery,
  rejectUnknownParams,
} from '../domain/performance-query';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

/**
 * Reports, straight from ReportingService, as JSON or (format=csv) as a CSV download; downstream errors
 * become HTTP statuses in the global filter. A key restricted to campaigns/offers gets the performance report
 * filtered to them (a request's own campaign/offer filters narrow that, never widen it: ids outside the grant are a
 * 403), a message of theirs only (404 otherwise, as if it did not exist), and no report that has no such filter
 * (reconciliation, maturity, journeys: 403). Unknown parameters are a 400, never silently ignored.
 */
@Controller('api/reports')
@RequireScope('reports:read')
export class ReportsHttpController {
  constructor(
    @Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('performance')
  @Header('Cache-Control', 'no-store')
  async performance(@Query() query: PerformanceQuery, @Res({ passthrough: true }) res: Response, @Grant() grant?: ApiKeyGrant) {
    const request = parsePerformanceQuery(query, this.clock.now());
    const format = parseFormat(query);
    const filters = parsePerformanceFilters(query);
    // A partner filter narrows whatever the key may see (its campaigns/offers still apply): it needs no grant of its own.
    const { filter, outside } = scopedFilter(grant, filters);
    if (outside.length) {
      throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: `this API key may not see ${outside.join(', ')}` });
    }
    const { creativeIds, partnerIds } = filters;
    const report = await this.reporting.getPerformanceReport({
      ...request,
      filter:
        filter || creativeIds.length || partnerIds.length
          ? { campaignIds: filter?.campaignIds ?? [], offerIds: filter?.offerIds ?? [], creativeIds, partnerIds }
          : undefined,
    });
    return answer(res, format, 'performance', report, PerformanceJson, performanceCsv);
  }

  @Get('reconciliation')
  @Header('Cache-Control', 'no-store')
  async reconciliation(@Query() query: RangeQuery, @Res({ passthrough: true }) res: Response, @Grant() grant?: ApiKeyGrant) {
    unrestrictedOnly(grant);
    const format = parseFormat(query);
    const report = await this.reporting.getReconciliationReport(parseReconciliationQuery(query, this.clock.now()));
    return answer(res, format, 'reconciliation', report, GetReconciliationReportResponse, reconciliationCsv);
  }

  @Get('maturity')
  @Header('Cache-Control', 'no-store')
  async maturity(@Query() query: RangeQuery & { group_by?: QueryValue }, @Res({ passthrough: true }) res: Response, @Grant() grant?: ApiKeyGrant) {
    unrestrictedOnly(grant);
    const format = parseFormat(query);
    const report = await this.reporting.getCohortMaturity(parseMaturityQuery(query, this.clock.now()));
    return answer(res, format, 'maturity', report, GetCohortMaturityResponse, maturityCsv);
  }

  @Get('messages/:messageId')
  @Header('Cache-Control', 'no-store')
  async message(
    @Param('messageId') messageId: string,
    @Query() query: { format?: QueryValue },
    @Res({ passthrough: true }) res: Response,
    @Grant() grant?: ApiKeyGrant,
  ) {
    const format = formatOnly(query);
    const report = await this.reporting.getMessageReport({ messageId });
    // The same answer as for a message that does not exist: a restricted key learns nothing about others' messages.
    if (!canSee(grant, report)) throw new NotFoundError('message', messageId);
    return answer(res, format, 'message', report, GetMessageReportResponse, messageCsv);
  }

  @Get('contacts/:contactId/journey')
  @Header('Cache-Control', 'no-store')
  async journey(
    @Param('contactId') contactId: string,
    @Query() query: { format?: QueryValue },
    @Res({ passthrough: true }) res: Response,
    @Grant() grant?: ApiKeyGrant,
  ) {
    // A contact's journey crosses campaigns, and its events do not all name theirs: not for a restricted key.
    unrestrictedOnly(grant);
    const format = formatOnly(query);
    const report = await this.reporting.getContactJourney({ contactId });
    return answer(res, format, 'journey', report, GetContactJourneyResponse, journeyCsv);
  }
}

/** Reports that cannot be filtered to a key's campaigns/offers are refused to a restricted key, before any call. */
function unrestrictedOnly(grant: ApiKeyGrant | undefined): void {
  if (isRestricted(grant)) {
    throw new ForbiddenException({ error: 'PERMISSION_DENIED', message: 'this report is not available to an API key restricted to campaigns or offers' });
  }
}

/** The `format` of a report that takes no other parameter (any other is a 400). */
function formatOnly(query: { format?: QueryValue }): 'json' | 'csv' {
  rejectUnknownParams(query, ['format']);
  return parseFormat({ format: query.format });
}

/** The report as JSON, or as a CSV download when format=csv. */
function answer<T>(res: Response, format: 'json' | 'csv', name: string, report: T, codec: { toJSON(message: T): unknown }, toCsv: (report: T) => string): unknown {
  return format === 'csv' ? csv(res, name, toCsv(report)) : apiJson(codec, report);
}

/** A CSV body as a download; the name is fixed per report, so nothing from the request reaches the header. */
function csv(res: Response, name: string, body: string): string {
  res.type('text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="trackly-${name}.csv"`);
  return body;
}
