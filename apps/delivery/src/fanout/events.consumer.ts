import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { CLOCK, Clock } from '@trackly/kernel';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { clickFacts, correctionFacts, decisionFacts, EventFacts } from '../domain/event-facts';
import { FanoutService } from './fanout.service';

/**
 * Decisions and their adjustments (attribution's stream) and clicks (tracking's clicks stream) become deliveries.
 * Each stream has its own durable consumer, so a blast of clicks never delays conversion postbacks.
 */
@Injectable()
export class DeliveryEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly fanout: FanoutService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.attribution)
      .onBatch(Events.ConversionAttributed, async (events, { manager }) => {
        const now = this.clock.now();
        await this.fanout.fanOut(manager, events.flatMap((e) => (e.event.attribution ? [decisionFacts('conversion.attributed', e.eventId, e.event.attribution, now)] : [])));
      })
      .onBatch(Events.ConversionUnattributed, async (events, { manager }) => {
        const now = this.clock.now();
        await this.fanout.fanOut(manager, events.flatMap((e) => (e.event.attribution ? [decisionFacts('conversion.unattributed', e.eventId, e.event.attribution, now)] : [])));
      })
      .onBatch(Events.AttributionCorrected, async (events, { manager }) => {
        const now = this.clock.now();
        await this.fanout.fanOut(manager, events.map((e) => correctionFacts(e.eventId, e.event, now)).filter((f): f is EventFacts => !!f));
      });

    this.lifecycle
      .consumer(Streams.trackingClicks)
      .onBatch(Events.ClickRecorded, async (events, { manager }) => {
        const now = this.clock.now();
        await this.fanout.fanOut(manager, events.flatMap((e) => (e.event.click ? [clickFacts(e.eventId, e.event.click, now)] : [])));
      })
      // A run of taps read together: each click keyed by its click id, the event id it has when published alone, so
      // a click carried twice (a run cut otherwise by a re-drive) is delivered once.
      .onBatch(Events.ClicksRecorded, async (events, { manager }) => {
        const now = this.clock.now();
        await this.fanout.fanOut(manager, events.flatMap((e) => e.event.clicks.map((c) => clickFacts(c.clickId, c, now))));
      });
  }
}
