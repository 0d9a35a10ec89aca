import { Controller } from '@nestjs/common';
import {
  GetCohortMaturityRequest,
  GetCohortMaturityResponse,
  GetContactJourneyRequest,
  GetContactJourneyResponse,
  GetMessageReportRequest,
  GetMessageReportResponse,
  GetPerformanceReportRequest,
  GetPerformanceReportResponse,
  GetReconciliationReportRequest,
  GetReconciliationReportResponse,
  ListContactsRequest,
  ListContactsResponse,
  ListMessagesRequest,
  ListMessagesResponse,
  ReportingServiceController,
  ListFxRatesRequest,
  ListFxRatesResponse,
  UpsertFxRatesRequest,
  UpsertFxRatesResponse,
  ReportingServiceControllerMethods,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { ReportsService } from './reports/reports.service';
import { FxRatesService } from './fx/fx-rates.service';

/** gRPC adapter: maps contract messages to the reports; errors become status codes in the global filter. */
@Controller()
@ReportingServiceControllerMethods()
export class ReportingGrpcController implements ReportingServiceController {
  constructor(
    private readonly reports: ReportsService,
    private readonly fx: FxRatesService,
  ) {}

  getPerformanceReport(req: GetPerformanceReportRequest): Promise<GetPerformanceReportResponse> {
    return this.reports.performance({
      groupBy: req.groupBy,
      fromDate: req.fromDate,
      toDate: req.toDate,
      timeZone: req.timeZone,
      thenBy: req.thenBy,
      dateBasis: req.dateBasis,
      filter: req.filter,
      includeTest: req.includeTest,
      reportingCurrency: req.reportingCurrency,
    });
  }

  getMessageReport(req: GetMessageReportRequest): Promise<GetMessageReportResponse> {
    return this.reports.message(req.messageId);
  }

  getContactJourney(req: GetContactJourneyRequest): Promise<GetContactJourneyResponse> {
    return this.reports.contactJourney(req.contactId);
  }

  getReconciliationReport(req: GetReconciliationReportRequest): Promise<GetReconciliationReportResponse> {
    return this.reports.reconciliation(req);
  }

  getCohortMaturity(req: GetCohortMaturityRequest): Promise<GetCohortMaturityResponse> {
    return this.reports.cohortMaturity(req);
  }

  listMessages(req: ListMessagesRequest): Promise<ListMessagesResponse> {
    return this.reports.listMessages(req);
  }

  listContacts(req: ListContactsRequest): Promise<ListContactsResponse> {
    return this.reports.listContacts(req);
  }

  upsertFxRates(req: UpsertFxRatesRequest): Promise<UpsertFxRatesResponse> {
    return this.fx.upsert(req.rates);
  }

  listFxRates(req: ListFxRatesRequest): Promise<ListFxRatesResponse> {
    return this.fx.list(req);
  }
}
