import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { DecisionFlow } from '../flow/decision-flow';
import { conversionFromIngest } from '../flow/wire';
import { AdjustmentsService } from './adjustments.service';

/**
 * Decides every conversion ingest stores, a pull's batch at a time through the one DecisionFlow (redelivery returns
 * the first decision and emits nothing new), and applies adjustments (each adjustment id once), in stream order.
 */
@Injectable()
export class ConversionsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly flow: DecisionFlow,
    private readonly adjustments: AdjustmentsService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.ingest)
      .onBatch(Events.ConversionReceived, async (events, { manager }) => {
        const now = this.clock.now();
        const convs = events.map((d) => {
          if (!d.event.conversion) throw new Error(`ConversionReceived ${d.eventId} without a conversion`);
          return conversionFromIngest(d.event.conversion, now);
        });
        // Unknown clicks park with their first retry due now: the backoff timer asks tracking outside a transaction.
        await this.flow.decideWithin(manager, convs, { retryNow: true });
      })
      .onBatch(Events.ConversionAdjusted, async (events, { manager }) => {
        for (const d of events) await this.adjustments.applyWithin(manager, d.event);
      });
  }
}
