import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { AttributedFact, attributedFact, correctionFact, directReceivedFact, ReceivedConversionFact, unattributedFact } from './domain/facts';
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
        await this.projection.recordReceivedConversions(manager, direct(decisions, events.map((d) => d.event.attribution?.decidedAt)));
      })
      .onBatch(Events.ConversionUnattributed, async (events, { manager }) => {
        const facts = events.map((d) => unattributedFact(d.event));
        await this.projection.recordUnattributedConversions(manager, facts);
        const decisions: AttributedFact[] = facts.map((fact) => ({ kind: 'unattributed', fact }));
        await this.projection.recordReceivedConversions(manager, direct(decisions, events.map((d) => d.event.attribution?.decidedAt)));
      })
      .onBatch(Events.AttributionCorrected, async (events, { manager }) => {
        const corrections = events.map((d) => correctionFact(d.event));
        await this.projection.lockMessages(manager, corrections.map((c) => (c.next.kind === 'credited' ? c.next.fact.messageId : '')));
        await this.projection.applyCorrections(manager, corrections);
        await this.projection.recordReceivedConversions(manager, direct(corrections.map((c) => c.next), events.map((d) => d.event.current?.decidedAt)));
      });
  }
}

/** Conversions sent straight to attribution: their decisions are the received side of reconciliation too. */
function direct(decisions: readonly AttributedFact[], decidedAt: readonly (Date | undefined)[]): ReceivedConversionFact[] {
  return decisions.flatMap((d, i) => directReceivedFact(d, decidedAt[i]) ?? []);
}
