import { Controller, Get, Header, Inject, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { CLOCK, Clock } from '@trackly/kernel';
import {
  GetCohortMaturityResponse,
  GetContactJourneyResponse,
  GetMessageReportResponse,
  GetPerformanceReportResponse,
  GetReconciliationReportResponse,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { journeyCsv, maturityCsv, messageCsv, performanceCsv, reconciliationCsv } from '../domain/csv';
import { apiJson } from '../domain/money-json';
import {
  parseFormat,
  parseMaturityQuery,
  parsePerformanceQuery,
  parseReconciliationQuery,
  PerformanceQuery,
  QueryValue,
  RangeQuery,
} from '../domain/performance-query';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

/**
 * Dashboard reports, straight from ReportingService, as JSON or (format=csv) as a CSV download; downstream errors
 * become HTTP statuses in the global filter.
 */
@Controller('api/reports')
export class ReportsHttpController {
  constructor(
    @Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('performance')
  @Header('Cache-Control', 'no-store')
  async performance(@Query() query: PerformanceQuery, @Res({ passthrough: true }) res: Response) {
    const format = parseFormat(query);
    const report = await this.reporting.getPerformanceReport(parsePerformanceQuery(query, this.clock.now()));
    return format === 'csv' ? csv(res, 'performance', performanceCsv(report)) : apiJson(GetPerformanceReportResponse, report);
  }

  @Get('reconciliation')
  @Header('Cache-Control', 'no-store')
  async reconciliation(@Query() query: RangeQuery, @Res({ passthrough: true }) res: Response) {
    const format = parseFormat(query);
    const report = await this.reporting.getReconciliationReport(parseReconciliationQuery(query, this.clock.now()));
    return format === 'csv' ? csv(res, 'reconciliation', reconciliationCsv(report)) : apiJson(GetReconciliationReportResponse, report);
  }

  @Get('maturity')
  @Header('Cache-Control', 'no-store')
  async maturity(@Query() query: RangeQuery & { group_by?: QueryValue }, @Res({ passthrough: true }) res: Response) {
    const format = parseFormat(query);
    const report = await this.reporting.getCohortMaturity(parseMaturityQuery(query, this.clock.now()));
    return format === 'csv' ? csv(res, 'maturity', maturityCsv(report)) : apiJson(GetCohortMaturityResponse, report);
  }

  @Get('messages/:messageId')
  @Header('Cache-Control', 'no-store')
  async message(@Param('messageId') messageId: string, @Query('format') formatParam: QueryValue, @Res({ passthrough: true }) res: Response) {
    const format = parseFormat({ format: formatParam });
    const report = await this.reporting.getMessageReport({ messageId });
    return format === 'csv' ? csv(res, 'message', messageCsv(report)) : apiJson(GetMessageReportResponse, report);
  }

  @Get('contacts/:contactId/journey')
  @Header('Cache-Control', 'no-store')
  async journey(@Param('contactId') contactId: string, @Query('format') formatParam: QueryValue, @Res({ passthrough: true }) res: Response) {
    const format = parseFormat({ format: formatParam });
    const report = await this.reporting.getContactJourney({ contactId });
    return format === 'csv' ? csv(res, 'journey', journeyCsv(report)) : apiJson(GetContactJourneyResponse, report);
  }
}

/** A CSV body as a download; the name is fixed per report, so nothing from the request reaches the header. */
function csv(res: Response, name: string, body: string): string {
  res.type('text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', `attachment; filename="trackly-${name}.csv"`);
  return body;
}
