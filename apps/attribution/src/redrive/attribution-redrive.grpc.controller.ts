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

const PUBLISHES = [Events.ConversionAttributed, Events.ConversionUnattributed, Events.AttributionCorrected].map((e) => e.subject);

/**
 * Attribution's re-drive (its outbox: decisions and corrections) and, for the drift check, what it produced (one
 * decision per conversion, by outcome) and what its projections applied (sends, taps, and conversions: decided or
 * parked).
 */
@Controller()
@RedriveServiceControllerMethods()
export class AttributionRedriveGrpcController implements RedriveServiceController {
  private readonly redriver: Redriver;

  constructor(
    private readonly ds: DataSource,
    messaging: Messaging,
  ) {
    this.redriver = new Redriver([new OutboxRedriveSource(ds, messaging, 'attribution')]);
  }

  redrive(request: RedriveRequest): Observable<RedriveResponse> {
    return redriveStream(this.redriver, request, PUBLISHES);
  }

  async getDailyCounts(request: GetDailyCountsRequest): Promise<GetDailyCountsResponse> {
    const { from, to } = dailyRange(request);
    const produced = await countPerDay(this.ds, [
      { subject: Events.ConversionAttributed.subject, table: '"attribution".decisions', timeColumn: 'occurred_at', where: `t.outcome = 'ATTRIBUTED'` },
      { subject: Events.ConversionUnattributed.subject, table: '"attribution".decisions', timeColumn: 'occurred_at', where: `t.outcome = 'UNATTRIBUTED'` },
    ], from, to);
    const applied = await countPerDay(this.ds, [
      { subject: Events.MessageSent.subject, table: '"attribution".sends', timeColumn: 'sent_at' },
      { subject: Events.ClickRecorded.subject, table: '"attribution".clicks', timeColumn: 'clicked_at' },
      {
        subject: Events.ConversionReceived.subject,
        table: `(SELECT occurred_at FROM "attribution".decisions UNION ALL SELECT p.occurred_at FROM "attribution".parked_conversions p
                 WHERE NOT EXISTS (SELECT 1 FROM "attribution".decisions d WHERE d.partner_id = p.partner_id AND d.conversion_id = p.conversion_id))`,
        timeColumn: 'occurred_at',
      },
    ], from, to);
    return { produced: dailyCountMessages(produced), applied: dailyCountMessages(applied) };
  }
}
