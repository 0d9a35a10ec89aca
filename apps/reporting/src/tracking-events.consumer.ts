import { Injectable, OnModuleInit } from '@nestjs/common';
import { BatchHandler, Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import type { ClickRecorded, MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { campaignName, clickFact, creativeName, messageFact, offerName } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/** Catalog names, sends and clicks from the tracking streams. */
@Injectable()
export class TrackingEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    const clicks: BatchHandler<ClickRecorded> = async (events, { manager }) => {
      const facts = events.map((d) => clickFact(d.event));
      await this.projection.lockMessages(manager, facts.map((f) => f.messageId));
      await this.projection.recordClicks(manager, facts);
    };
    const sends: BatchHandler<MessageSent> = async (events, { manager }) => {
      const facts = events.map((d) => messageFact(d.event));
      await this.projection.lockMessages(manager, facts.map((f) => f.messageId));
      await this.projection.recordMessages(manager, facts);
    };
    this.lifecycle
      .consumer(Streams.tracking)
      .on(Events.OfferUpserted, (e, { manager }) => this.projection.recordName(manager, offerName(e)))
      .on(Events.CreativeUpserted, (e, { manager }) => this.projection.recordName(manager, creativeName(e)))
      .on(Events.CampaignUpserted, (e, { manager }) => this.projection.recordName(manager, campaignName(e)))
      .onBatch(Events.MessageSent, sends)
      // Clicks stored on the tracking stream before they got a stream of their own.
      .onBatch(Events.ClickRecorded, clicks);
    // Taps on their own stream and durable consumer: never behind a blast's MessageSent events.
    this.lifecycle.consumer(Streams.trackingClicks).onBatch(Events.ClickRecorded, clicks);
  }
}
