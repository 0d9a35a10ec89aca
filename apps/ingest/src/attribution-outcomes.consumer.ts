import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import type { Logger } from '@trackly/logging';
import { BatchContext, Delivered, Events, MessagingLifecycle, Streams } from '@trackly/messaging';
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
      .onBatch(Events.ConversionAttributed, (events, ctx) => this.apply(events.map((d) => attributedVerdict(d.event.attribution)), events, ctx))
      .onBatch(Events.ConversionUnattributed, (events, ctx) => this.apply(events.map((d) => unattributedVerdict(d.event.attribution)), events, ctx))
      // Adjustments and re-attribution move credit later: keep the verdict shown by GetConversion current.
      .onBatch(Events.AttributionCorrected, (events, ctx) =>
        this.apply(events.map((d) => correctedVerdict(d.event.current)).filter((v): v is AttributionVerdict => !!v), events, ctx),
      );
  }

  private async apply(verdicts: AttributionVerdict[], events: Delivered<unknown>[], { manager }: BatchContext): Promise<void> {
    const unknown = await this.conversions.recordVerdicts(manager, verdicts);
    if (unknown.length) {
      // Attribution also decides conversions submitted to it directly; those were never stored here.
      this.logger.warn(
        { events: events.length, unknown: unknown.length, first: `${unknown[0].partnerId}/${unknown[0].conversionId}` },
        'attribution decisions for conversions ingest never stored ignored',
      );
    }
  }
}
