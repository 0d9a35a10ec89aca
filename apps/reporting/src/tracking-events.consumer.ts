import { Injectable, OnModuleInit } from '@nestjs/common';
import { BatchHandler, Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import type { ClickRecorded, ClicksRecorded, MessageSent, MessagesSent } from '@trackly/contracts/tracking/v1/tracking_events';
import type { EntityManager } from 'typeorm';
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
    const applyClicks = async (manager: EntityManager, recorded: ClickRecorded[]) => {
      const facts = recorded.map(clickFact);
      await this.projection.lockMessages(manager, facts.map((f) => f.messageId));
      await this.projection.recordClicks(manager, facts);
    };
    const clicks: BatchHandler<ClickRecorded> = (events, { manager }) => applyClicks(manager, events.map((d) => d.event));
    // A run of taps read together; a click carried twice (a run cut otherwise by a re-drive) counts once by its id.
    const clickRuns: BatchHandler<ClicksRecorded> = (events, { manager }) => applyClicks(manager, events.flatMap((d) => d.event.clicks.map((click) => ({ click }))));
    const sends = async (manager: EntityManager, sent: MessageSent[]) => {
      const facts = sent.map(messageFact);
      await this.projection.lockMessages(manager, facts.map((f) => f.messageId));
      await this.projection.recordMessages(manager, facts);
    };
    // Runs of sends (what tracking publishes) and single sends (earlier versions' events) are applied alike; a send
    // carried twice (where a relay read or a re-drive page ended) is stored and counted once by its message id.
    const runs: BatchHandler<MessagesSent> = (events, { manager }) => sends(manager, events.flatMap((d) => d.event.messages));
    const singles: BatchHandler<MessageSent> = (events, { manager }) => sends(manager, events.map((d) => d.event));
    this.lifecycle
      .consumer(Streams.tracking)
      .on(Events.OfferUpserted, (e, { manager }) => this.projection.recordName(manager, offerName(e)))
      .on(Events.CreativeUpserted, (e, { manager }) => this.projection.recordName(manager, creativeName(e)))
      .on(Events.CampaignUpserted, (e, { manager }) => this.projection.recordName(manager, campaignName(e)))
      .onBatch(Events.MessagesSent, runs)
      .onBatch(Events.MessageSent, singles)
      // Clicks stored on the tracking stream before they got a stream of their own.
      .onBatch(Events.ClickRecorded, clicks);
    // Taps on their own stream and durable consumer: never behind a blast's MessageSent events.
    this.lifecycle.consumer(Streams.trackingClicks).onBatch(Events.ClickRecorded, clicks).onBatch(Events.ClicksRecorded, clickRuns);
  }
}
