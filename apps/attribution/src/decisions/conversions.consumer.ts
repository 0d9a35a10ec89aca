import { Injectable, OnModuleInit } from '@nestjs/common';
import { Events, MessagingLifecycle, Streams } from '@trackly/messaging';
import { statusFromEnum } from './attribution.mappers';
import { AttributionService } from './attribution.service';
import { AdjustmentsService } from './adjustments.service';

/**
 * Decides every conversion ingest stores (redelivery returns the first decision and emits nothing new) and applies
 * its adjustments (each adjustment id once).
 */
@Injectable()
export class ConversionsConsumer implements OnModuleInit {
  constructor(
    private readonly lifecycle: MessagingLifecycle,
    private readonly attribution: AttributionService,
    private readonly adjustments: AdjustmentsService,
  ) {}

  onModuleInit(): void {
    this.lifecycle
      .consumer(Streams.ingest)
      .on(Events.ConversionReceived, async (e, { manager }) => {
        const c = e.conversion;
        if (!c) throw new Error('ConversionReceived without a conversion');
        await this.attribution.attributeWithin(manager, {
          partnerId: c.partnerId,
          conversionId: c.conversionId,
          conversionRef: c.id,
          clickId: c.clickId,
          messageId: c.messageId,
          payout: { currency: c.payout?.currencyCode ?? '', micros: BigInt(c.payout?.amountMicros ?? '0') },
          status: statusFromEnum(c.status) ?? 'APPROVED',
          occurredAt: c.occurredAt ?? c.receivedAt ?? new Date(),
        });
      })
      .on(Events.ConversionAdjusted, async (e, { manager }) => {
        await this.adjustments.applyWithin(manager, e);
      });
  }
}
