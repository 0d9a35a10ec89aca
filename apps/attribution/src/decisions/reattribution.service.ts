import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { assertId, CLOCK, Clock, FailedPreconditionError, InvalidArgumentError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { ReattributeRequest, ReattributeResponse, ReattributionChange, RevenueDiff } from '@trackly/contracts/attribution/v1/attribution_service';
import { ConversionStatus, RULE_VERSION } from '../domain/first-click.rules';
import { CreditLine, decisionChanged, revenueDiff, RevenueTotals } from '../domain/reattribution.rules';
import { AttributionService } from './attribution.service';
import { toAttribution } from './attribution.mappers';
import { DecisionEntity } from './decision.entity';

export const REATTRIBUTION_CAUSE = 'reattribution';
const MAX_LIMIT = 10_000;
const MAX_CHANGES_SHOWN = 100;

const lineOf = (d: DecisionEntity): CreditLine => ({
  outcome: d.outcome,
  reason: d.reason,
  type: d.type,
  creditedClickId: d.creditedClickId,
  messageId: d.messageId,
  offerId: d.offerId,
  windowDays: d.windowDays,
  status: d.status,
  payout: { currency: d.currency, micros: d.payoutMicros },
});

const money = (currency: string, micros: bigint) => ({ currencyCode: currency, amountMicros: micros.toString() });
const toDiff = (t: RevenueTotals): RevenueDiff => ({
  key: t.key,
  approvedBefore: money(t.currency, t.approvedBefore),
  approvedAfter: money(t.currency, t.approvedAfter),
  pendingBefore: money(t.currency, t.pendingBefore),
  pendingAfter: money(t.currency, t.pendingAfter),
});

/**
 * Re-runs the current rules (and the current projections: offer windows, click classes) over decided conversions.
 * One run at a time (advisory lock), rows locked against concurrent adjustments; applying updates each changed
 * decision, logs the correction and publishes AttributionCorrected in the same transaction.
 */
@Injectable()
export class ReattributionService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly attribution: AttributionService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async run(req: ReattributeRequest): Promise<ReattributeResponse> {
    if (!req.occurredFrom && !req.occurredTo && !req.offerId) throw new InvalidArgumentError('occurred_from', 'or occurred_to or offer_id is required');
    if (req.offerId) assertId(req.offerId, 'offer_id');
    const limit = req.limit || MAX_LIMIT;
    if (limit > MAX_LIMIT) throw new InvalidArgumentError('limit', `must be at most ${MAX_LIMIT}`);
    const runId = randomUUID();
    const dryRun = req.dryRun;
    const result = await this.ds.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('trackly-attribution-reattribute'))`);
      const qb = m.createQueryBuilder(DecisionEntity, 'd');
      if (req.offerId) qb.andWhere('d.offer_id = :offerId', { offerId: req.offerId });
      if (req.occurredFrom) qb.andWhere('d.occurred_at >= :from', { from: req.occurredFrom });
      if (req.occurredTo) qb.andWhere('d.occurred_at < :to', { to: req.occurredTo });
      if (!dryRun) qb.setLock('pessimistic_write');
      const rows = await qb.orderBy('d.occurred_at').addOrderBy('d.partner_id').addOrderBy('d.conversion_id').take(limit + 1).getMany();
      if (rows.length > limit) throw new FailedPreconditionError(`more than ${limit} decisions match: narrow the range or raise limit (at most ${MAX_LIMIT})`);
      const pairs: { before: CreditLine; after: CreditLine }[] = [];
      const changes: ReattributionChange[] = [];
      for (const row of rows) {
        const next = await this.attribution.redecide(m, {
          partnerId: row.partnerId,
          conversionId: row.conversionId,
          conversionRef: row.conversionRef,
          clickId: row.reportedClickId,
          messageId: row.conversionMessageId,
          payout: { currency: row.currency, micros: row.payoutMicros },
          status: row.status as ConversionStatus,
          occurredAt: row.occurredAt,
        });
        if (!decisionChanged(lineOf(row), lineOf(next))) continue;
        next.decidedAt = row.decidedAt;
        next.revision = row.revision + 1;
        next.updatedAt = this.clock.now();
        const note = `Re-attributed (run ${runId}, ${RULE_VERSION}); before: ${row.outcome}${row.reason ? ` ${row.reason}` : ''}${row.messageId ? ` on message ${row.messageId}` : ''} (${row.ruleVersion}).`;
        next.explanation = `${next.explanation} ${note}`.slice(0, 8000);
        pairs.push({ before: lineOf(row), after: lineOf(next) });
        const change = { previous: toAttribution(row), current: toAttribution(next) };
        if (changes.length < MAX_CHANGES_SHOWN) changes.push(change);
        if (dryRun) continue;
        await m.save(DecisionEntity, next);
        const correctionId = randomUUID();
        await m.query(
          `INSERT INTO "attribution".corrections (correction_id, partner_id, conversion_id, cause, source_id, emitted, explanation, created_at)
           VALUES ($1, $2, $3, $4, $5, true, $6, $7)`,
          [correctionId, row.partnerId, row.conversionId, REATTRIBUTION_CAUSE, `${runId}:${row.partnerId}/${row.conversionId}`, note, this.clock.now()],
        );
        await this.outbox.add(m, Events.AttributionCorrected, { ...change, cause: REATTRIBUTION_CAUSE, correctionId });
      }
      return {
        runId,
        dryRun,
        examined: rows.length,
        changed: pairs.length,
        byOffer: revenueDiff(pairs, (l) => l.offerId).map(toDiff),
        byMessage: revenueDiff(pairs, (l) => l.messageId).map(toDiff),
        changes,
        ruleVersion: RULE_VERSION,
      };
    });
    if (!dryRun && result.changed) this.relay.kick();
    return result;
  }
}
