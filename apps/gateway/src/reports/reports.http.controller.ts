import { Controller, Get, Header, Inject, Param, Query } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import {
  GetContactJourneyResponse,
  GetMessageReportResponse,
  GetPerformanceReportResponse,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { apiJson } from '../domain/money-json';
import { parsePerformanceQuery, PerformanceQuery } from '../domain/performance-query';
import type { ReportingClient } from '../downstream/downstream.providers';
import { REPORTING_CLIENT } from '../gateway.tokens';

/** Dashboard reports, straight from ReportingService; downstream errors become HTTP statuses in the global filter. */
@Controller('api/reports')
export class ReportsHttpController {
  constructor(
    @Inject(REPORTING_CLIENT) private readonly reporting: ReportingClient,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('performance')
  @Header('Cache-Control', 'no-store')
  async performance(@Query() query: PerformanceQuery) {
    const report = await this.reporting.getPerformanceReport(parsePerformanceQuery(query, this.clock.now()));
    return apiJson(GetPerformanceReportResponse, report);
  }

  @Get('messages/:messageId')
  @Header('Cache-Control', 'no-store')
  async message(@Param('messageId') messageId: string) {
    return apiJson(GetMessageReportResponse, await this.reporting.getMessageReport({ messageId }));
  }

  @Get('contacts/:contactId/journey')
  @Header('Cache-Control', 'no-store')
  async journey(@Param('contactId') contactId: string) {
    return apiJson(GetContactJourneyResponse, await this.reporting.getContactJourney({ contactId }));
  }
}
