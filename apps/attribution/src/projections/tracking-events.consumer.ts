import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
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
    this.lifecycle
      .consumer(Streams.tracking)
      .on(Events.OfferUpserted, async (e, { manager }) => {
        if (e.offer) await this.projections.saveOffer(manager, e.offer);
      })
      .on(Events.MessageSent, (e, { manager }) => this.projections.saveSend(manager, e))
      .on(Events.ClickRecorded, async (e, { manager }) => {
        if (!e.click) return;
        await this.projections.saveClick(manager, e.click);
        await this.attribution.retryParkedForClick(manager, e.click.clickId);
      });
  }
}
