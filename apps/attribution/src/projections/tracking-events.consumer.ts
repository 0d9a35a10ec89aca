import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, HandlerContext, MessagingLifecycle, Streams } from '@trackly/messaging';
import type { ClickRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { AttributionService } from '../decisions/attribution.service';
import { ProjectionsRepository } from './projections.repository';

/**
 * Keeps attribution's projections of offers, sends and clicks current from tracking's stream. A click's arrival also
 * settles the conversions parked waiting for it, in the same transaction.
 */
@Injectable()
export class TrackingEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projections: ProjectionsRepository,
    private readonly attribution: AttributionService,
  ) {}

  onModuleInit(): void {
    const click = async (e: ClickRecorded, { manager }: HandlerContext) => {
      if (!e.click) return;
      await this.projections.saveClick(manager, e.click);
      await this.attribution.retryParkedForClick(manager, e.click.clickId);
    };
    this.lifecycle
      .consumer(Streams.tracking)
      .on(Events.OfferUpserted, async (e, { manager }) => {
        if (e.offer) await this.projections.saveOffer(manager, e.offer);
      })
      .on(Events.MessageSent, (e, { manager }) => this.projections.saveSend(manager, e))
      // Clicks stored on the tracking stream before they got a stream of their own.
      .on(Events.ClickRecorded, click);
    // Taps on their own stream and durable consumer: never behind a blast's MessageSent events.
    this.lifecycle.consumer(Streams.trackingClicks).on(Events.ClickRecorded, click);
  }
}
