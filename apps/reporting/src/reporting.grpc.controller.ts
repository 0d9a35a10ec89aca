import { Controller } from '@nestjs/common';
import {
  GetContactJourneyRequest,
  GetContactJourneyResponse,
  GetMessageReportRequest,
  GetMessageReportResponse,
  GetPerformanceReportRequest,
  GetPerformanceReportResponse,
  ReportingServiceController,
  ReportingServiceControllerMethods,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { ReportsService } from './reports/reports.service';

/** gRPC adapter: maps contract messages to the reports; errors become status codes in the global filter. */
@Controller()
@ReportingServiceControllerMethods()
export class ReportingGrpcController implements ReportingServiceController {
  constructor(private readonly reports: ReportsService) {}

  getPerformanceReport(req: GetPerformanceReportRequest): Promise<GetPerformanceReportResponse> {
    return this.reports.performance({ groupBy: req.groupBy, fromDate: req.fromDate, toDate: req.toDate, timeZone: req.timeZone });
  }

  getMessageReport(req: GetMessageReportRequest): Promise<GetMessageReportResponse> {
    return this.reports.message(req.messageId);
  }

  getContactJourney(req: GetContactJourneyRequest): Promise<GetContactJourneyResponse> {
    return this.reports.contactJourney(req.contactId);
  }
}
