import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Events, Outbox } from '@trackly/messaging';
import { outgoingContextHeaders } from '@trackly/observability';
import type { ConversionToDecide } from '../domain/conversion-input.rules';
import { DecisionEntity } from '../decisions/decision.entity';
import { ParkedConversionEntity } from '../decisions/parked.entity';
import { toAttribution } from '../decisions/attribution.mappers';
import type { Attribution } from '@trackly/contracts/attribution/v1/attribution';
import { moneyToWire } from './wire';
import { ConversionKey, DecisionStore, keyOf, Tx } from './ports';
import { preparedQuery, textArrayParam } from '@trackly/database';

/** Every column of a decision row: [column, SQL array type, read from the row]. */
const DECISION_COLUMNS: [string, string, (d: DecisionEntity) => unknown][] = [
  ['partner_id', 'text', (d) => d.partnerId],
  ['conversion_id', 'text', (d) => d.conversionId],
  ['conversion_ref', 'text', (d) => d.conversionRef],
  ['outcome', 'text', (d) => d.outcome],
  ['reason', 'text', (d) => d.reason],
  ['type', 'text', (d) => d.type],
  ['reported_click_id', 'text', (d) => d.reportedClickId],
  ['credited_click_id', 'text', (d) => d.creditedClickId],
  ['message_id', 'text', (d) => d.messageId],
  ['contact_id', 'text', (d) => d.contactId],
  ['offer_id', 'text', (d) => d.offerId],
  ['campaign_id', 'text', (d) => d.campaignId],
  ['creative_id', 'text', (d) => d.creativeId],
  ['payout_micros', 'bigint', (d) => d.payoutMicros.toString()],
  ['currency', 'text', (d) => d.currency],
  ['status', 'text', (d) => d.status],
  ['occurred_at', 'timestamptz', (d) => d.occurredAt],
  ['credited_clicked_at', 'timestamptz', (d) => d.creditedClickedAt],
  ['window_days', 'int', (d) => d.windowDays],
  ['decided_at', 'timestamptz', (d) => d.decidedAt],
  ['explanation', 'text', (d) => d.explanation],
  ['rule_version', 'text', (d) => d.ruleVersion],
  ['rule', 'text', (d) => d.rule],
  ['window_source', 'text', (d) => d.windowSource],
  ['conversion_message_id', 'text', (d) => d.conversionMessageId],
  ['fingerprint', 'text', (d) => d.fingerprint],
  ['revision', 'int', (d) => d.revision],
  ['updated_at', 'timestamptz', (d) => d.updatedAt],
  ['test', 'bool', (d) => d.test],
  ['source', 'text', (d) => d.source],
  ['payout_defaulted', 'bool', (d) => d.payoutDefaulted],
  ['over_cap', 'bool', (d) => d.overCap],
  ['hold_until', 'timestamptz', (d) => d.holdUntil],
];

const N = DECISION_COLUMNS.length;
const COLS = DECISION_COLUMNS.map(([c]) => c).join(', ');
/**
 * One statement: the decisions (skipping any whose key or credited fingerprint is taken), the outbox rows of the
 * ones inserted (in the batch's order), and the parked rows of every conversion of the batch gone.
 */
const INSERT_SQL = `
  WITH d AS (
    SELECT * FROM unnest(${DECISION_COLUMNS.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ')}) WITH ORDINALITY AS d(${COLS}, n)
  ), ins AS (
    INSERT INTO "attribution".decisions (${COLS}) SELECT ${COLS} FROM d ORDER BY n
    ON CONFLICT DO NOTHING RETURNING partner_id, conversion_id
  ), ob AS (
    INSERT INTO "attribution".outbox (id, subject, payload, headers)
    SELECT o.id, o.subject, o.payload, o.headers::jsonb
    FROM unnest($${N + 1}::uuid[], $${N + 2}::text[], $${N + 3}::bytea[], $${N + 4}::text[], $${N + 5}::text[], $${N + 6}::text[])
      WITH ORDINALITY AS o(id, subject, payload, headers, partner_id, conversion_id, n)
    JOIN ins ON ins.partner_id = o.partner_id AND ins.conversion_id = o.conversion_id
    ORDER BY o.n
  ), gone AS (
    DELETE FROM "attribution".parked_conversions p USING d WHERE p.partner_id = d.partner_id AND p.conversion_id = d.conversion_id
  )
  SELECT partner_id, conversion_id FROM ins`;

const PARKED_FOR_CLICKS_SQL = `SELECT * FROM "attribution".parked_conversions WHERE click_id = ANY($1::text[])
  ORDER BY parked_at, partner_id, conversion_id FOR UPDATE`;

interface ParkedRow {
  partner_id: string;
  conversion_id: string;
  conversion_ref: string;
  click_id: string;
  message_id: string;
  payout_micros: string;
  currency: string;
  status: string;
  occurred_at: Date;
  parked_at: Date;
  attempts: number;
  next_attempt_at: Date;
  horizon_at: Date;
  last_error: string | null;
  test: boolean;
  source: string | null;
  payout_absent: boolean;
}

const parkedFromRow = (r: ParkedRow): ParkedConversionEntity =>
  Object.assign(new ParkedConversionEntity(), {
    partnerId: r.partner_id, conversionId: r.conversion_id, conversionRef: r.conversion_ref, clickId: r.click_id, messageId: r.message_id,
    payoutMicros: BigInt(r.payout_micros), currency: r.currency, status: r.status, occurredAt: r.occurred_at, parkedAt: r.parked_at,
    attempts: r.attempts, nextAttemptAt: r.next_attempt_at, horizonAt: r.horizon_at, lastError: r.last_error, test: r.test, source: r.source,
    payoutAbsent: r.payout_absent,
  });

const keysParams = (keys: ConversionKey[]) => [keys.map((k) => k.partnerId), keys.map((k) => k.conversionId)];

/** Decisions and parked conversions on Postgres, each call one or two set-based statements. */
@Injectable()
export class PgDecisionStore implements DecisionStore {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
  ) {}

  async findDecisions(tx: Tx, keys: ConversionKey[]): Promise<Map<string, DecisionEntity>> {
    if (!keys.length) return new Map();
    const m = tx as EntityManager;
    const rows = await m
      .createQueryBuilder(DecisionEntity, 'd')
      .where(`(d.partner_id, d.conversion_id) IN (SELECT * FROM unnest(CAST(:p AS text[]), CAST(:c AS text[])))`, { p: keys.map((k) => k.partnerId), c: keys.map((k) => k.conversionId) })
      .getMany();
    return new Map(rows.map((r) => [keyOf(r), r]));
  }

  async insertDecisions(tx: Tx, rows: DecisionEntity[]): Promise<Set<string>> {
    if (!rows.length) return new Set();
    const m = tx as EntityManager;
    const headers = JSON.stringify(outgoingContextHeaders(true));
    const events = rows.map((d) => {
      const type = d.outcome === 'ATTRIBUTED' ? Events.ConversionAttributed : Events.ConversionUnattributed;
      return this.outbox.encodeRows(type, [{ attribution: toAttribution(d) }], [{}]);
    });
    const inserted: ConversionKey[] = (
      await preparedQuery<{ partner_id: string; conversion_id: string }>(m, 'attribution-decisions-insert', INSERT_SQL, [
        ...DECISION_COLUMNS.map(([, , get]) => rows.map(get)),
        events.map((e) => e.ids[0]),
        events.map((e) => e.subject),
        events.map((e) => e.bodies[0]),
        rows.map(() => headers),
        rows.map((d) => d.partnerId),
        rows.map((d) => d.conversionId),
      ])
    ).map((r) => ({ partnerId: r.partner_id, conversionId: r.conversion_id }));
    return new Set(inserted.map(keyOf));
  }

  async park(tx: Tx, convs: ConversionToDecide[], parkedAt: Date, nextAttemptAt: Date, horizonAt: Date): Promise<ParkedConversionEntity[]> {
    const m = tx as EntityManager;
    // Concurrent callers and redeliveries park it once; the first parking's facts and horizon stand.
    const fresh: { partner_id: string; conversion_id: string }[] = await m.query(
      `INSERT INTO "attribution".parked_conversions (partner_id, conversion_id, conversion_ref, click_id, message_id, payout_micros,
         currency, status, occurred_at, test, source, payout_absent, parked_at, attempts, next_attempt_at, horizon_at)
       SELECT u.*, $10::timestamptz, 0, $11::timestamptz, $12::timestamptz
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::timestamptz[],
           $13::bool[], $14::text[], $15::bool[])
         AS u(partner_id, conversion_id, conversion_ref, click_id, message_id, payout_micros, currency, status, occurred_at, test, source, payout_absent)
       ON CONFLICT (partner_id, conversion_id) DO NOTHING RETURNING partner_id, conversion_id`,
      [
        convs.map((c) => c.partnerId), convs.map((c) => c.conversionId), convs.map((c) => c.conversionRef), convs.map((c) => c.clickId),
        convs.map((c) => c.messageId), convs.map((c) => c.payout.micros.toString()), convs.map((c) => c.payout.currency),
        convs.map((c) => c.status), convs.map((c) => c.occurredAt), parkedAt, nextAttemptAt, horizonAt,
        convs.map((c) => c.test), convs.map((c) => c.source), convs.map((c) => c.payoutAbsent),
      ],
    );
    const rows = await m
      .createQueryBuilder(ParkedConversionEntity, 'p')
      .where(`(p.partner_id, p.conversion_id) IN (SELECT * FROM unnest(CAST(:p AS text[]), CAST(:c AS text[])))`, { p: convs.map((k) => k.partnerId), c: convs.map((k) => k.conversionId) })
      .getMany();
    const isNew = new Set(fresh.map((r) => keyOf({ partnerId: r.partner_id, conversionId: r.conversion_id })));
    const parkedEvents = rows
      .filter((p) => isNew.has(keyOf(p)))
      .map((p) => ({
        partnerId: p.partnerId, conversionId: p.conversionId, clickId: p.clickId, payout: moneyToWire({ currency: p.currency, micros: p.payoutMicros }),
        parkedAt: p.parkedAt, horizonAt: p.horizonAt,
      }));
    if (parkedEvents.length) await this.outbox.addMany(m, Events.ConversionParked, parkedEvents);
    return rows;
  }

  async settled(tx: Tx, items: { attribution: Attribution; expired: boolean }[]): Promise<void> {
    if (items.length) await this.outbox.addMany(tx as EntityManager, Events.ConversionSettled, items);
  }

  /**
   * Runs for every batch of taps (almost always finding nothing): a prepared statement, where TypeORM's query builder
   * built the SQL in JavaScript and Postgres parsed and planned it anew for each batch.
   */
  async parkedForClicks(tx: Tx, clickIds: string[]): Promise<ParkedConversionEntity[]> {
    const rows = await preparedQuery<ParkedRow>(tx as EntityManager, 'attribution-parked-for-clicks', PARKED_FOR_CLICKS_SQL, [textArrayParam([...new Set(clickIds)])]);
    return rows.map(parkedFromRow);
  }

  lockParked(tx: Tx, keys: ConversionKey[]): Promise<ParkedConversionEntity[]> {
    const [p, c] = keysParams(keys);
    return (tx as EntityManager)
      .createQueryBuilder(ParkedConversionEntity, 'p')
      .setLock('pessimistic_write')
      .setOnLocked('skip_locked')
      .where(`(p.partner_id, p.conversion_id) IN (SELECT * FROM unnest(CAST(:p AS text[]), CAST(:c AS text[])))`, { p, c })
      .orderBy('p.next_attempt_at')
      .addOrderBy('p.partner_id')
      .addOrderBy('p.conversion_id')
      .getMany();
  }

  async reschedule(tx: Tx, items: { key: ConversionKey; nextAttemptAt: Date; error: string | null }[]): Promise<void> {
    if (!items.length) return;
    await (tx as EntityManager).query(
      `UPDATE "attribution".parked_conversions p SET attempts = p.attempts + 1, next_attempt_at = u.next, last_error = u.err
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS u(partner_id, conversion_id, next, err)
       WHERE p.partner_id = u.partner_id AND p.conversion_id = u.conversion_id`,
      [items.map((x) => x.key.partnerId), items.map((x) => x.key.conversionId), items.map((x) => x.nextAttemptAt), items.map((x) => x.error)],
    );
  }

  async dueParked(now: Date, limit: number): Promise<(ConversionKey & { clickId: string; horizonAt: Date })[]> {
    const rows: { partner_id: string; conversion_id: string; click_id: string; horizon_at: Date }[] = await this.ds.query(
      `SELECT partner_id, conversion_id, click_id, horizon_at FROM "attribution".parked_conversions WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => ({ partnerId: r.partner_id, conversionId: r.conversion_id, clickId: r.click_id, horizonAt: new Date(r.horizon_at) }));
  }
}
