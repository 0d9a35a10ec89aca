import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { attributedFact, correctionFact, unattributedFact } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/**
 * Credited and unattributed conversions, and later corrections of either, from the attribution stream: each group
 * of one event type is applied set-based (facts multi-row, each rollup key once per group), groups in stream order.
 */
@Injectable()
export class AttributionEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.attribution)
      .onBatch(Events.ConversionAttributed, async (events, { manager }) => {
        const decisions = events.map((d) => attributedFact(d.event));
        // A credited conversion joins its send's cohort: serialised with the send's batch (see lockMessages).
        await this.projection.lockMessages(manager, decisions.map((d) => (d.kind === 'credited' ? d.fact.messageId : '')));
        await this.projection.recordDecisions(manager, decisions);
      })
      .onBatch(Events.ConversionUnattributed, (events, { manager }) =>
        this.projection.recordUnattributedConversions(manager, events.map((d) => unattributedFact(d.event))),
      )
      .onBatch(Events.AttributionCorrected, async (events, { manager }) => {
        const corrections = events.map((d) => correctionFact(d.event));
        await this.projection.lockMessages(manager, corrections.map((c) => (c.next.kind === 'credited' ? c.next.fact.messageId : '')));
        await this.projection.applyCorrections(manager, corrections);
      });
  }
}
