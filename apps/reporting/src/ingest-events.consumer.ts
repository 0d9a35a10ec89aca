import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { adjustedFact, receivedFact, receivedFacts } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/**
 * Conversions as the partners posted them (the received side of reconciliation), from the ingest stream (alone or in
 * runs), a batch at a time.
 */
@Injectable()
export class IngestEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.ingest)
      .onBatch(Events.ConversionReceived, (events, { manager }) =>
        this.projection.recordReceivedConversions(manager, events.map((d) => receivedFact(d.event))),
      )
      // A run the relay read together: each conversion recorded once by its key, whatever event carried it.
      .onBatch(Events.ConversionsReceived, (events, { manager }) =>
        this.projection.recordReceivedConversions(manager, events.flatMap((d) => receivedFacts(d.event))),
      )
      .onBatch(Events.ConversionAdjusted, (events, { manager }) =>
        this.projection.recordAdjustedConversions(
          manager,
          events.map((d) => ({ ...adjustedFact(d.event), cause: d.event.cause })),
        ),
      );
  }
}
