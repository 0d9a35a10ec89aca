import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { CLOCK, Clock } from '@trackly/kernel';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { DecisionFlow } from '../flow/decision-flow';
import { conversionFromIngest } from '../flow/wire';
import { AdjustmentsService } from './adjustments.service';

/**
 * Decides every conversion ingest stores (alone or in runs), a pull's batch at a time through the one DecisionFlow
 * (redelivery returns the first decision and emits nothing new), and applies adjustments (each adjustment id once),
 * in stream order.
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
      .onBatch(Events.ConversionReceived, (events, { manager }) =>
        this.decide(
          manager,
          events.map((d) => {
            if (!d.event.conversion) throw new Error(`ConversionReceived ${d.eventId} without a conversion`);
            return d.event.conversion;
          }),
        ),
      )
      // A run of conversions the relay read together: each decided once, like a redelivery, whatever carried it.
      .onBatch(Events.ConversionsReceived, (events, { manager }) =>
        this.decide(
          manager,
          events.flatMap((d) => {
            if (!d.event.conversions.length) throw new Error(`ConversionsReceived ${d.eventId} without conversions`);
            return d.event.conversions;
          }),
        ),
      )
      .onBatch(Events.ConversionAdjusted, async (events, { manager }) => {
        for (const d of events) await this.adjustments.applyWithin(manager, d.event);
      });
  }

  private async decide(manager: EntityManager, conversions: Conversion[]): Promise<void> {
    const now = this.clock.now();
    // Unknown clicks park with their first retry due now: the backoff timer asks tracking outside a transaction.
    await this.flow.decideWithin(manager, conversions.map((c) => conversionFromIngest(c, now)), { retryNow: true });
  }
}
