import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { campaignName, clickFact, creativeName, messageFact, offerName } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/** Catalog names, sends and clicks from the tracking stream. */
@Injectable()
export class TrackingEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.tracking)
      .on(Events.OfferUpserted, (e, { manager }) => this.projection.recordName(manager, offerName(e)))
      .on(Events.CreativeUpserted, (e, { manager }) => this.projection.recordName(manager, creativeName(e)))
      .on(Events.CampaignUpserted, (e, { manager }) => this.projection.recordName(manager, campaignName(e)))
      .on(Events.MessageSent, (e, { manager }) => this.projection.recordMessage(manager, messageFact(e)))
      .on(Events.ClickRecorded, (e, { manager }) => this.projection.recordClick(manager, clickFact(e)));
  }
}
