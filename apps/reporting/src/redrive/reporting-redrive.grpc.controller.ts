import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Observable, throwError } from 'rxjs';
import {
  GetDailyCountsRequest,
  GetDailyCountsResponse,
  RedriveRequest,
  RedriveResponse,
  RedriveServiceController,
  RedriveServiceControllerMethods,
} from '@trackly/contracts/ops/v1/redrive_service';
import { FailedPreconditionError } from '@trackly/kernel';
import { countPerDay, dailyCountMessages, dailyRange, Events } from '@trackly/messaging';

/**
 * Reporting publishes nothing, so it has nothing to re-drive; for the drift check it counts what its facts hold
 * (sends, taps, conversions received, credited and unattributed), per UTC day of each entity's own time. Its facts
 * are rebuilt by re-driving the producers into an empty schema (docs/operations.md, "Rebuild a read model").
 */
@Controller()
@RedriveServiceControllerMethods()
export class ReportingRedriveGrpcController implements RedriveServiceController {
  constructor(private readonly ds: DataSource) {}

  redrive(_request: RedriveRequest): Observable<RedriveResponse> {
    return throwError(() => new FailedPreconditionError('reporting publishes no events; re-drive the producers (tracking, ingest, attribution)'));
  }

  async getDailyCounts(request: GetDailyCountsRequest): Promise<GetDailyCountsResponse> {
    const { from, to } = dailyRange(request);
    const applied = await countPerDay(this.ds, [
      { subject: Events.MessageSent.subject, table: '"reporting".messages', timeColumn: 'sent_at' },
      { subject: Events.ClickRecorded.subject, table: '"reporting".clicks', timeColumn: 'clicked_at' },
      { subject: Events.ConversionReceived.subject, table: '"reporting".received_conversions', timeColumn: 'occurred_at' },
      { subject: Events.ConversionAttributed.subject, table: '"reporting".credited_conversions', timeColumn: 'occurred_at' },
      { subject: Events.ConversionUnattributed.subject, table: '"reporting".unattributed_conversions', timeColumn: 'occurred_at' },
    ], from, to);
    return { produced: [], applied: dailyCountMessages(applied) };
  }
}
