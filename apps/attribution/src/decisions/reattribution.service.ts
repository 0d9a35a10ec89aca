import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { assertId, CLOCK, Clock, FailedPreconditionError, InvalidArgumentError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { AttributionCorrected } from '@trackly/contracts/attribution/v1/attribution_events';
import type { ReattributeRequest, ReattributeResponse, ReattributionChange, RevenueDiff } from '@trackly/contracts/attribution/v1/attribution_service';
import { RULE_VERSION } from '../domain/first-click.rules';
import { CreditLine, decisionChanged, revenueDiff, RevenueTotals } from '../domain/reattribution.rules';
import { DecisionFlow } from '../flow/decision-flow';
import { conversionFromDecision, moneyToWire } from '../flow/wire';
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

const money = (currency: string, micros: bigint) => moneyToWire({ currency, micros });
const toDiff = (t: RevenueTotals): RevenueDiff => ({
  key: t.key,
  approvedBefore: money(t.currency, t.approvedBefore),
  approvedAfter: money(t.currency, t.approvedAfter),
  pendingBefore: money(t.currency, t.pendingBefore),
  pendingAfter: money(t.currency, t.pendingAfter),
});

/** Conversions read, decided and written together (a few queries per chunk instead of several per conversion). */
const CHUNK = 1_000;

interface RunContext {
  m: EntityManager;
  runId: string;
  dryRun: boolean;
  pairs: { before: CreditLine; after: CreditLine }[];
  changes: ReattributionChange[];
}

/** A changed decision to save, with its correction note and its AttributionCorrected event. */
interface Write {
  row: DecisionEntity;
  next: DecisionEntity;
  note: string;
  event: AttributionCorrected;
}

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
    private readonly flow: DecisionFlow,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** `opts.chunkSize` (tests) changes how many conversions are read, decided and written together. */
  async run(req: ReattributeRequest, opts: { chunkSize?: number } = {}): Promise<ReattributeResponse> {
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
      const ctx: RunContext = { m, runId, dryRun, pairs, changes };
      await this.batched(ctx, rows, opts.chunkSize ?? CHUNK);
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

  /**
   * Chunk by chunk through the DecisionFlow: the chunk's facts in one load, each conversion decided in order
   * (seeing the fingerprints earlier changes of the chunk moved; earlier chunks are already written), then the
   * chunk's changes written together before the next chunk is read.
   */
  private async batched(ctx: RunContext, rows: DecisionEntity[], chunkSize: number): Promise<void> {
    for (let start = 0; start < rows.length; start += chunkSize) {
      const chunk = rows.slice(start, start + chunkSize);
      const redecided = await this.flow.redecide(ctx.m, chunk.map((row) => ({ conv: conversionFromDecision(row), before: row })), !ctx.dryRun);
      const writes: Write[] = [];
      let ordered = false;
      chunk.forEach((row, i) => {
        const write = this.compare(ctx, row, redecided[i].row);
        if (!write || ctx.dryRun) return;
        // A credit passing between two conversions of the chunk: one UPDATE could trip the unique index mid-statement.
        if (redecided[i].takesReleased) ordered = true;
        writes.push(write);
      });
      if (ordered) for (const w of writes) await this.write(ctx, [w]);
      else await this.write(ctx, writes);
    }
  }

  /** Records a changed decision in the diff and the changes list; undefined when the decision holds. */
  private compare(ctx: RunContext, row: DecisionEntity, next: DecisionEntity): Write | undefined {
    const now = this.clock.now();
    const capOrHoldMoved = row.overCap !== next.overCap || (row.holdUntil?.getTime() ?? null) !== (next.holdUntil?.getTime() ?? null);
    if (!decisionChanged(lineOf(row), lineOf(next)) && !capOrHoldMoved) return undefined;
    // The status is the partner's (and the hold sweeper's): a re-run only puts a conversion on hold anew (a new
    // hold not yet due, or newly over a cap with HOLD); otherwise the stored status stands.
    const newHold = !!next.holdUntil && !row.holdUntil && next.holdUntil.getTime() > now.getTime();
    if (!newHold && !(next.overCap && !row.overCap)) next.status = row.status;
    next.decidedAt = row.decidedAt;
    next.revision = row.revision + 1;
    next.updatedAt = this.clock.now();
    const note = `Re-attributed (run ${ctx.runId}, ${RULE_VERSION}); before: ${row.outcome}${row.reason ? ` ${row.reason}` : ''}${row.messageId ? ` on message ${row.messageId}` : ''} (${row.ruleVersion}).`;
    next.explanation = `${next.explanation} ${note}`.slice(0, 8000);
    ctx.pairs.push({ before: lineOf(row), after: lineOf(next) });
    const change = { previous: toAttribution(row), current: toAttribution(next) };
    if (ctx.changes.length < MAX_CHANGES_SHOWN) ctx.changes.push(change);
    return { row, next, note, event: { ...change, cause: REATTRIBUTION_CAUSE, correctionId: randomUUID() } };
  }

  /** Changed decisions in one UPDATE, their corrections in one INSERT, their events in one outbox write. */
  private async write(ctx: RunContext, writes: Write[]): Promise<void> {
    if (!writes.length) return;
    const col = <T>(f: (d: DecisionEntity) => T) => writes.map((w) => f(w.next));
    // Every column a re-decision can change (the others are the conversion's own facts, copied from the row).
    await ctx.m.query(
      `UPDATE "attribution".decisions d SET outcome = u.outcome, reason = u.reason, type = u.type, credited_click_id = u.credited_click_id,
         message_id = u.message_id, contact_id = u.contact_id, offer_id = u.offer_id, campaign_id = u.campaign_id, creative_id = u.creative_id,
         credited_clicked_at = u.credited_clicked_at, window_days = u.window_days, decided_at = u.decided_at, explanation = u.explanation,
         rule_version = u.rule_version, rule = u.rule, window_source = u.window_source, fingerprint = u.fingerprint, revision = u.revision,
         updated_at = u.updated_at, status = u.status, over_cap = u.over_cap, hold_until = u.hold_until, payout_micros = u.payout_micros,
         currency = u.currency, payout_defaulted = u.payout_defaulted
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
         $11::text[], $12::timestamptz[], $13::int[], $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[],
         $20::int[], $21::timestamptz[], $22::text[], $23::bool[], $24::timestamptz[], $25::bigint[], $26::text[], $27::bool[])
         AS u(partner_id, conversion_id, outcome, reason, type, credited_click_id, message_id, contact_id, offer_id, campaign_id, creative_id,
           credited_clicked_at, window_days, decided_at, explanation, rule_version, rule, window_source, fingerprint, revision, updated_at,
           status, over_cap, hold_until, payout_micros, currency, payout_defaulted)
       WHERE d.partner_id = u.partner_id AND d.conversion_id = u.conversion_id`,
      [
        col((d) => d.partnerId), col((d) => d.conversionId), col((d) => d.outcome), col((d) => d.reason), col((d) => d.type),
        col((d) => d.creditedClickId), col((d) => d.messageId), col((d) => d.contactId), col((d) => d.offerId), col((d) => d.campaignId),
        col((d) => d.creativeId), col((d) => d.creditedClickedAt), col((d) => d.windowDays), col((d) => d.decidedAt), col((d) => d.explanation),
        col((d) => d.ruleVersion), col((d) => d.rule), col((d) => d.windowSource), col((d) => d.fingerprint), col((d) => d.revision),
        col((d) => d.updatedAt), col((d) => d.status), col((d) => d.overCap), col((d) => d.holdUntil), col((d) => d.payoutMicros.toString()),
        col((d) => d.currency), col((d) => d.payoutDefaulted),
      ],
    );
    await this.writeCorrections(ctx, writes);
    await this.outbox.addMany(ctx.m, Events.AttributionCorrected, writes.map((w) => w.event));
  }

  private async writeCorrections(ctx: RunContext, writes: Write[]): Promise<void> {
    const now = this.clock.now();
    // In the given order, so the corrections' seq follows the decisions' order as the per-row inserts did.
    await ctx.m.query(
      `INSERT INTO "attribution".corrections (correction_id, partner_id, conversion_id, cause, source_id, emitted, explanation, created_at)
       SELECT u.correction_id, u.partner_id, u.conversion_id, $4, u.source_id, true, u.explanation, $7
       FROM unnest($1::uuid[], $2::text[], $3::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(correction_id, partner_id, conversion_id, source_id, explanation, n)
       ORDER BY u.n`,
      [
        writes.map((w) => w.event.correctionId),
        writes.map((w) => w.row.partnerId),
        writes.map((w) => w.row.conversionId),
        REATTRIBUTION_CAUSE,
        writes.map((w) => `${ctx.runId}:${w.row.partnerId}/${w.row.conversionId}`),
        writes.map((w) => w.note),
        now,
      ],
    );
  }
}
