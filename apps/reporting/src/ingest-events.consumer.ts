import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { adjustedFact, receivedFact } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/** Conversions as the partners posted them (the received side of reconciliation), from the ingest stream. */
@Injectable()
export class IngestEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.ingest)
      .on(Events.ConversionReceived, (e, { manager }) => this.projection.recordReceivedConversion(manager, receivedFact(e)))
      .on(Events.ConversionAdjusted, (e, { manager }) => {
        const { adjustmentId, fact } = adjustedFact(e);
        return this.projection.recordAdjustedConversion(manager, adjustmentId, e.cause, fact);
      });
  }
}
