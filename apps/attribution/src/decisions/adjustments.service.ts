import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CLOCK, Clock, Money } from '@trackly/kernel';
import { Events, Outbox } from '@trackly/messaging';
import type { ConversionAdjusted } from '@trackly/contracts/ingest/v1/ingest_events';
import { adjustmentEffect, ConversionStatus } from '../domain/first-click.rules';
import { ConversionToDecide } from '../domain/conversion-input.rules';
import { DecisionFlow } from '../flow/decision-flow';
import { conversionFromIngest } from '../flow/wire';
import { toAttribution } from './attribution.mappers';
import { DecisionEntity } from './decision.entity';

export const ADJUSTMENT_CAUSE = 'adjustment';

/**
 * Applies ingest's ConversionAdjusted to the decision: status and payout move, a rejection withdraws the credit, an
 * un-rejection decides again. Every change is logged in corrections (unique per adjustment id, so it applies once)
 * and published as AttributionCorrected(previous, current): read models undo the previous and apply the current.
 */
@Injectable()
export class AdjustmentsService {
  constructor(
    private readonly outbox: Outbox,
    private readonly flow: DecisionFlow,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Inside the consumer's transaction. Returns what happened, for logs and tests. */
  async applyWithin(m: EntityManager, e: ConversionAdjusted): Promise<'applied' | 'unchanged' | 'duplicate' | 'parked' | 'decided'> {
    const c = e.conversion;
    if (!c) throw new Error('ConversionAdjusted without a conversion');
    if (!e.adjustmentId) throw new Error('ConversionAdjusted without an adjustment_id');
    const conv = conversionFromIngest(c, this.clock.now());
    // The row lock serialises adjustments of one conversion across replicas.
    const current = await m
      .createQueryBuilder(DecisionEntity, 'd')
      .setLock('pessimistic_write')
      .where('d.partner_id = :p AND d.conversion_id = :c', { p: conv.partnerId, c: conv.conversionId })
      .getOne();
    if (await this.seen(m, e.adjustmentId)) return 'duplicate';

    if (!current) {
      const parked = await m.query(
        `WITH u AS (UPDATE "attribution".parked_conversions SET status = $3, payout_micros = $4, currency = $5
           WHERE partner_id = $1 AND conversion_id = $2 RETURNING 1) SELECT * FROM u`,
        [conv.partnerId, conv.conversionId, conv.status, conv.payout.micros.toString(), conv.payout.currency],
      );
      if (parked.length) {
        await this.log(m, conv, e.adjustmentId, false, `Adjusted while parked (${e.cause}): status ${conv.status}, payout ${conv.payout.micros} micros ${conv.payout.currency}; no decision to correct yet.`);
        return 'parked';
      }
      // Never decided here (its ConversionReceived was lost to us, or it was only ever adjusted): decide its new state.
      await this.log(m, conv, e.adjustmentId, false, `Adjusted before any decision (${e.cause}): decided with the adjusted state.`);
      await this.flow.decideWithin(m, [conv]);
      return 'decided';
    }

    const previous = toAttribution(current);
    const effect = adjustmentEffect(
      { outcome: current.outcome, reason: current.reason, status: current.status as ConversionStatus, payout: { currency: current.currency, micros: current.payoutMicros } },
      { status: conv.status, payout: conv.payout },
      e.cause,
    );
    if (effect.kind === 'NONE') {
      await this.log(m, conv, e.adjustmentId, false, `Adjustment (${e.cause}) changed nothing attribution keeps.`);
      return 'unchanged';
    }
    // Keep what the decision was based on; only status, payout and (for a rejection or an un-rejection) the outcome move.
    const basis: ConversionToDecide = { ...conv, clickId: current.reportedClickId, messageId: current.conversionMessageId, occurredAt: current.occurredAt };
    let next: DecisionEntity;
    if (effect.kind === 'REDECIDE') {
      [{ row: next }] = await this.flow.redecide(m, [{ conv: basis, before: current }]);
      next.decidedAt = current.decidedAt;
      next.conversionRef = current.conversionRef || conv.conversionRef;
      next.explanation = `${next.explanation} ${effect.explanation}`;
    } else {
      next = m.create(DecisionEntity, {
        ...current,
        status: conv.status,
        payoutMicros: conv.payout.micros,
        currency: conv.payout.currency,
        explanation: `${current.explanation} ${effect.explanation}`,
        // Adjusted meanwhile: the partner's status stands, the hold no longer applies.
        holdUntil: conv.status !== current.status ? null : current.holdUntil,
      });
      if (effect.kind === 'WITHDRAW') {
        Object.assign(next, { outcome: 'UNATTRIBUTED', reason: 'REJECTED', rule: 'REJECTED_STATUS', type: null, creditedClickId: null, creditedClickedAt: null });
      }
    }
    next.explanation = next.explanation.slice(0, 8000);
    next.revision = current.revision + 1;
    next.updatedAt = this.clock.now();
    await m.save(DecisionEntity, next);
    const correctionId = await this.log(m, conv, e.adjustmentId, true, effect.explanation);
    await this.outbox.add(m, Events.AttributionCorrected, { previous, current: toAttribution(next), cause: ADJUSTMENT_CAUSE, correctionId });
    return 'applied';
  }

  private async seen(m: EntityManager, adjustmentId: string): Promise<boolean> {
    const rows = await m.query(`SELECT 1 FROM "attribution".corrections WHERE cause = $1 AND source_id = $2`, [ADJUSTMENT_CAUSE, adjustmentId]);
    return rows.length > 0;
  }

  /** The corrections row: its unique (cause, source) makes a second application of one adjustment fail loudly. */
  private async log(m: EntityManager, conv: { partnerId: string; conversionId: string; payout: Money }, adjustmentId: string, emitted: boolean, explanation: string): Promise<string> {
    const id = randomUUID();
    await m.query(
      `INSERT INTO "attribution".corrections (correction_id, partner_id, conversion_id, cause, source_id, emitted, explanation, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [id, conv.partnerId, conv.conversionId, ADJUSTMENT_CAUSE, adjustmentId, emitted, explanation, this.clock.now()],
    );
    return id;
  }
}
