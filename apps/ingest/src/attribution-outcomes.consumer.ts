import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Logger } from '@trackly/logging';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { AttributionVerdict, attributedVerdict, correctedVerdict, unattributedVerdict } from './domain/attribution-verdict';
import { ConversionsService } from './conversions/conversions.service';
import { INGEST_LOGGER } from './ingest.tokens';

/** Attribution's decisions, kept on the conversion so GetConversion/ListConversions show what became of it. */
@Injectable()
export class AttributionOutcomesConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly conversions: ConversionsService,
    @Inject(INGEST_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.attribution)
      .on(Events.ConversionAttributed, (e, { manager, eventId }) => this.apply(manager, attributedVerdict(e.attribution), eventId))
      .on(Events.ConversionUnattributed, (e, { manager, eventId }) => this.apply(manager, unattributedVerdict(e.attribution), eventId))
      // Adjustments and re-attribution move credit later: keep the verdict shown by GetConversion current.
      .on(Events.AttributionCorrected, async (e, { manager, eventId }) => {
        const verdict = correctedVerdict(e.current);
        if (verdict) await this.apply(manager, verdict, eventId);
      });
  }

  private async apply(manager: EntityManager, verdict: AttributionVerdict, eventId: string): Promise<void> {
    if (!(await this.conversions.recordVerdict(manager, verdict))) {
      // Attribution also decides conversions submitted to it directly; those were never stored here.
      this.logger.warn({ eventId, partnerId: verdict.partnerId, conversionId: verdict.conversionId }, 'attribution decision for an unknown conversion ignored');
    }
  }
}
