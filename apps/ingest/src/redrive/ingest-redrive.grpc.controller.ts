import { Controller } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Observable } from 'rxjs';
import {
  GetDailyCountsRequest,
  GetDailyCountsResponse,
  RedriveRequest,
  RedriveResponse,
  RedriveServiceController,
  RedriveServiceControllerMethods,
} from '@trackly/contracts/ops/v1/redrive_service';
import { countPerDay, dailyCountMessages, dailyRange, Events, Messaging, OutboxRedriveSource, Redriver, redriveStream } from '@trackly/messaging';

const PUBLISHES = [Events.ConversionReceived, Events.ConversionAdjusted].map((e) => e.subject);

/** Ingest's re-drive (its outbox, kept OUTBOX_RETENTION_DAYS) and its per-day conversions for the drift check. */
@Controller()
@RedriveServiceControllerMethods()
export class IngestRedriveGrpcController implements RedriveServiceController {
  private readonly redriver: Redriver;

  constructor(
    private readonly ds: DataSource,
    messaging: Messaging,
  ) {
    this.redriver = new Redriver([new OutboxRedriveSource(ds, messaging, 'ingest')]);
  }

  redrive(request: RedriveRequest): Observable<RedriveResponse> {
    return redriveStream(this.redriver, request, PUBLISHES);
  }

  async getDailyCounts(request: GetDailyCountsRequest): Promise<GetDailyCountsResponse> {
    const { from, to } = dailyRange(request);
    const produced = await countPerDay(this.ds, [{ subject: Events.ConversionReceived.subject, table: '"ingest".conversions', timeColumn: 'occurred_at' }], from, to);
    return { produced: dailyCountMessages(produced), applied: [] };
  }
}
