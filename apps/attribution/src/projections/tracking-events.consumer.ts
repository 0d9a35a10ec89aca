import { Injectable, OnModuleInit } from '@nestjs/common';
import { BatchHandler, Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import type { EntityManager } from 'typeorm';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import type { ClickRecorded, ClicksRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { DecisionFlow } from '../flow/decision-flow';
import { projectedClick, ProjectionsRepository } from './projections.repository';

/**
 * Keeps attribution's projections of offers, sends and clicks current from tracking's streams, a batch at a time
 * (one multi-row write per table per batch). A batch of clicks also settles the conversions parked waiting for
 * them, in the same transaction.
 */
@Injectable()
export class TrackingEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projections: ProjectionsRepository,
    private readonly flow: DecisionFlow,
  ) {}

  onModuleInit(): void {
    const saveClicks = async (manager: EntityManager, clicks: Click[]) => {
      const rows = clicks.map(projectedClick);
      await this.projections.saveClicks(manager, rows);
      await this.flow.settleParkedForClicks(manager, rows.map((c) => c.clickId));
    };
    const clicks: BatchHandler<ClickRecorded> = (events, { manager }) => saveClicks(manager, events.flatMap((d) => (d.event.click ? [d.event.click] : [])));
    // A run of taps read together; a click carried twice (a run cut otherwise by a re-drive) is saved once by its id.
    const clickRuns: BatchHandler<ClicksRecorded> = (events, { manager }) => saveClicks(manager, events.flatMap((d) => d.event.clicks));
    this.lifecycle
      .consumer(Streams.tracking)
      .onBatch(Events.OfferUpserted, (events, { manager }) =>
        this.projections.saveOffers(manager, events.flatMap((d) => (d.event.offer ? [d.event.offer] : []))),
      )
      // Runs of sends (what tracking publishes) and single sends (earlier versions' events) alike; a send carried
      // twice (where a relay read or a re-drive page ended) is saved once by its message id.
      .onBatch(Events.MessagesSent, (events, { manager }) => this.projections.saveSends(manager, events.flatMap((d) => d.event.messages)))
      .onBatch(Events.MessageSent, (events, { manager }) => this.projections.saveSends(manager, events.map((d) => d.event)))
      // Clicks stored on the tracking stream before they got a stream of their own.
      .onBatch(Events.ClickRecorded, clicks);
    // Taps on their own stream and durable consumer: never behind a blast's MessageSent events.
    this.lifecycle.consumer(Streams.trackingClicks).onBatch(Events.ClickRecorded, clicks).onBatch(Events.ClicksRecorded, clickRuns);
  }
}
