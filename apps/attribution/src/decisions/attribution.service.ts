import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { NotFoundError, assertId } from '@trackly/kernel';
import { OutboxRelay } from '@trackly/messaging';
import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { ConversionToDecide } from '../domain/conversion-input.rules';
import { AttributeResult, DecisionFlow } from '../flow/decision-flow';
import { DecisionEntity } from './decision.entity';
import { ParkedConversionEntity } from './parked.entity';
import { parkedToAttribution, toAttribution } from './attribution.mappers';

export type { AttributeResult } from '../flow/decision-flow';

/**
 * Makes each conversion's decision exactly once and durably (through the one DecisionFlow), and reads decisions
 * back: a parked conversion reads as PENDING.
 */
@Injectable()
export class AttributionService {
  constructor(
    private readonly ds: DataSource,
    private readonly relay: OutboxRelay,
    private readonly flow: DecisionFlow,
  ) {}

  /** The AttributeConversion RPC: a batch of one in its own transaction (tracking asked before it opens). */
  async attribute(conv: ConversionToDecide): Promise<AttributeResult> {
    const result = await this.flow.attribute(conv);
    if (result.emitted) this.relay.kick();
    return result;
  }

  /** The decision, or the parked conversion as outcome PENDING. */
  async get(partnerId: string, conversionId: string): Promise<Attribution> {
    assertId(partnerId, 'partner_id');
    assertId(conversionId, 'conversion_id');
    const row = await this.ds.getRepository(DecisionEntity).findOneBy({ partnerId, conversionId });
    if (row) return toAttribution(row);
    const parked = await this.ds.getRepository(ParkedConversionEntity).findOneBy({ partnerId, conversionId });
    if (parked) return parkedToAttribution(parked);
    throw new NotFoundError('attribution for conversion', `${partnerId}/${conversionId}`);
  }
}
