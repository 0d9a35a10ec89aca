import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { attributedFact, correctionFact, unattributedFact } from './domain/facts';
import { ProjectionService } from './projection/projection.service';

/** Credited and unattributed conversions, and later corrections of either, from the attribution stream. */
@Injectable()
export class AttributionEventsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly projection: ProjectionService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.attribution)
      .on(Events.ConversionAttributed, async (e, { manager }) => {
        const decided = attributedFact(e);
        if (decided.kind === 'credited') await this.projection.recordCreditedConversion(manager, decided.fact);
        else await this.projection.recordUnattributedConversion(manager, decided.fact);
      })
      .on(Events.ConversionUnattributed, (e, { manager }) => this.projection.recordUnattributedConversion(manager, unattributedFact(e)))
      .on(Events.AttributionCorrected, (e, { manager }) => this.projection.applyCorrection(manager, correctionFact(e)));
  }
}
