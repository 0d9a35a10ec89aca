import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, In, IsNull } from 'typeorm';
import { CLOCK, Clock, InvalidArgumentError, Money, NotFoundError } from '@trackly/kernel';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import { outgoingContextHeaders } from '@trackly/observability';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import type { ListConversionsRequest, SubmitConversionRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import type { AttributionVerdict } from '../domain/attribution-verdict';
import { AdjustmentCause, DUPLICATE_REASONS, repeatVerdict, ReversalKey } from '../domain/conversion-adjustment';
import { ConversionDraft, externalIdProblem, FieldProblems, orThrow, partnerIdProblem, statusFromName, statusName, validateSubmission } from '../domain/conversion.rules';
import { encodePageToken, validateListRequest } from '../domain/conversion-listing';
import { newConversion, toConversion } from '../wire';
import { ConversionEntity } from './conversion.entity';
import { ConversionEventsRelay, conversionEventColumns, conversionEventPayload } from './conversion-events';
import { fromEpochMs, jsonParam } from '@trackly/database';

export interface StoreResult {
  /** The conversion as stored now: the first one stored, for a duplicate; the new state, when adjusted. */
  conversion: Conversion;
  duplicate: boolean;
  outcome: 'stored' | 'duplicate' | 'adjusted';
  /** Why a repeat was a duplicate. */
  reason?: string;
}

export interface StoreOptions {
  /** Repeats with a changed status or payout adjust the stored conversion (for this cause); otherwise the first wins. */
  adjust?: AdjustmentCause;
  /** The archived request this came from, kept with an adjustment. */
  postbackRequestId?: string;
}

export interface ReversalResult {
  conversion: Conversion;
  outcome: 'reversed' | 'duplicate';
}

const REVERSED = ConversionStatus.CONVERSION_STATUS_REVERSED;

/** One statement on the raw connection of a transaction (named, so pg prepares it once per connection): its rows. */
export type RawQuery = (name: string, text: string, values: unknown[]) => Promise<Record<string, unknown>[]>;

/** A conversion of the postback edge's group commit, with the request context its event carries. */
export interface BatchDraft {
  draft: ConversionDraft;
  receivedAt: Date;
  /** The archived request, kept with an adjustment. */
  postbackRequestId: string;
  /** The request's context headers (request id, trace), taken when the request was handled. */
  headers: Record<string, string>;
}

/** A batch's conversion rows and events, as parameter $1 of CONVERSION_BATCH_CTES (see ConversionsService.batchRows). */
export interface ConversionBatch {
  /** The id each item's row gets if it is new, in input order. */
  ids: string[];
  /** Each item as a new conversion, in input order. */
  created: Conversion[];
  /** The rows with their events, in key order, as JSON (jsonParam). */
  rows: string;
}

/**
 * The columns that make a new row the source of its ConversionReceived (ConversionEventsRelay): the writing
 * transaction's id, the row's place in the sequence (its default), the encoded event and its headers.
 */
const EVENT_SOURCE_COLUMNS = 'xid, received_event, event_headers';

/**
 * One CTE of a batch statement: `ins` inserts the new conversions (multi-row INSERT … ON CONFLICT DO NOTHING, in key
 * order), each row with its ConversionReceived (published from the row by ConversionEventsRelay: no outbox row).
 * `input` holds the rows, from parameter $1 (ConversionBatch.rows: one JSON document; the event's bytes in base64);
 * `SELECT id FROM ins` names the stored ones.
 */
export const CONVERSION_BATCH_CTES = `input AS (
         SELECT * FROM json_to_recordset($1::json) AS t(id uuid, partner_id text, conversion_id text, click_id text, payout_micros bigint,
           currency text, status text, occurred_ms bigint, received_ms bigint, raw jsonb, transaction_id text, event_id text,
           sale_amount_micros bigint, sub_ids jsonb, payout_absent boolean, message_id text, test boolean, payload text, headers jsonb, ord int)
       ), ins AS (
         INSERT INTO "ingest".conversions (id, partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at,
           received_at, raw, transaction_id, event_id, sale_amount_micros, sub_ids, payout_absent, message_id, test, ${EVENT_SOURCE_COLUMNS})
         SELECT id, partner_id, conversion_id, click_id, payout_micros, currency, status, ${fromEpochMs('occurred_ms')},
           ${fromEpochMs('received_ms')}, raw, transaction_id, event_id, sale_amount_micros, sub_ids, payout_absent, message_id, test,
           pg_current_xact_id(), decode(payload, 'base64'), headers
         FROM input ORDER BY ord
         ON CONFLICT (partner_id, conversion_id) DO NOTHING
         RETURNING id
       )`;

/** A conversion's natural key as one string (sorting, maps). */
function conversionKey(d: ConversionDraft): string {
  return `${d.partnerId}\u0000${d.conversionId}`;
}

/** The columns of "ingest".conversions as pg returns them (int8 as text, jsonb parsed). */
interface ConversionRow {
  id: string;
  partner_id: string;
  conversion_id: string;
  click_id: string | null;
  message_id: string | null;
  payout_micros: string;
  currency: string;
  status: string;
  payout_absent: boolean;
  test: boolean;
  occurred_at: Date;
  received_at: Date;
  attribution_state: string;
  attribution_reason: string | null;
  credited_message_id: string | null;
  raw: ConversionEntity['raw'];
  transaction_id: string | null;
  event_id: string | null;
  sale_amount_micros: string | null;
  sub_ids: ConversionEntity['subIds'];
  updated_at: Date | null;
}

/** A conversions row as pg returns it (bigint as text), read as the entity TypeORM would give. */
function entityOfRow(row: Record<string, unknown>): ConversionEntity {
  const r = row as unknown as ConversionRow;
  return Object.assign(new ConversionEntity(), {
    id: r.id,
    partnerId: r.partner_id,
    conversionId: r.conversion_id,
    clickId: r.click_id,
    messageId: r.message_id,
    payoutMicros: BigInt(r.payout_micros),
    currency: r.currency,
    status: r.status,
    payoutAbsent: r.payout_absent,
    test: r.test,
    occurredAt: r.occurred_at,
    receivedAt: r.received_at,
    attributionState: r.attribution_state,
    attributionReason: r.attribution_reason,
    creditedMessageId: r.credited_message_id,
    raw: r.raw,
    transactionId: r.transaction_id,
    eventId: r.event_id,
    saleAmountMicros: r.sale_amount_micros === null ? null : BigInt(r.sale_amount_micros),
    subIds: r.sub_ids,
    updatedAt: r.updated_at,
  });
}

/**
 * Conversions: stored once per (partner_id, conversion_id). A new row is the source of its ConversionReceived
 * (ConversionEventsRelay; an import's rows still announce theirs through the outbox), a change goes out as
 * ConversionAdjusted through the outbox.
 */
@Injectable()
export class ConversionsService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly events: ConversionEventsRelay,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** IngestService.SubmitConversion: the same rules and the same idempotency as the postback edge. */
  async submit(req: SubmitConversionRequest): Promise<{ conversion: Conversion; duplicate: boolean }> {
    const receivedAt = this.clock.now();
    const draft = orThrow(validateSubmission(req, receivedAt));
    const result = await this.ds.transaction((m) => this.storeIn(m, draft, receivedAt));
    this.events.kick();
    this.relay.kick();
    return { conversion: result.conversion, duplicate: result.duplicate };
  }

  /**
   * Inserts unless (partner_id, conversion_id) exists; a new row emits ConversionReceived, in the caller's
   * transaction. A concurrent insert of the same key waits for the other transaction and then sees its row. With
   * `adjust`, a repeat that changes status or payout updates the row (locked, so concurrent repeats apply one by
   * one) and emits ConversionAdjusted; an identical repeat is a duplicate and emits nothing.
   */
  async storeIn(m: EntityManager, draft: ConversionDraft, receivedAt: Date, opts: StoreOptions = {}): Promise<StoreResult> {
    // The row with its ConversionReceived in one statement: the conversion is built here (its id too), so its event is
    // encoded before the INSERT and stored only if the row was new.
    const fresh = Object.assign(new ConversionEntity(), {
      id: randomUUID(),
      partnerId: draft.partnerId,
      conversionId: draft.conversionId,
      clickId: draft.clickId,
      messageId: draft.messageId ?? null,
      payoutMicros: draft.payout.micros,
      currency: draft.payout.currency,
      payoutAbsent: !!draft.payoutAbsent,
      test: !!draft.test,
      status: statusName(draft.status),
      occurredAt: draft.occurredAt,
      receivedAt,
      attributionState: 'PENDING',
      attributionReason: null,
      creditedMessageId: null,
    });
    const created = toConversion(fresh);
    const event = conversionEventColumns(created, outgoingContextHeaders(true));
    // The row is its event's source (ConversionEventsRelay): no outbox row.
    const inserted: { id: string }[] = await m.query(
      `INSERT INTO "ingest".conversions (id, partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at,
         received_at, raw, transaction_id, event_id, sale_amount_micros, sub_ids, payout_absent, message_id, test, ${EVENT_SOURCE_COLUMNS})
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, $14::jsonb, $15, $16, $17, pg_current_xact_id(), $18, $19::jsonb)
       ON CONFLICT (partner_id, conversion_id) DO NOTHING
       RETURNING id`,
      [
        fresh.id,
        draft.partnerId,
        draft.conversionId,
        draft.clickId,
        draft.payout.micros.toString(),
        draft.payout.currency,
        fresh.status,
        draft.occurredAt,
        receivedAt,
        jsonParam(draft.raw),
        draft.transactionId ?? null,
        draft.eventId ?? null,
        draft.saleAmountMicros?.toString() ?? null,
        jsonParam(draft.subIds ?? {}),
        !!draft.payoutAbsent,
        draft.messageId ?? null,
        !!draft.test,
        event.payload,
        event.headers,
      ],
    );
    if (inserted.length) return { conversion: created, duplicate: false, outcome: 'stored' };
    const key = { partnerId: draft.partnerId, conversionId: draft.conversionId };
    if (!opts.adjust) {
      return { conversion: toConversion(await m.findOneByOrFail(ConversionEntity, key)), duplicate: true, outcome: 'duplicate', reason: 'conversion_id already stored for this partner' };
    }
    const existing = await m.findOneOrFail(ConversionEntity, { where: key, lock: { mode: 'pessimistic_write' } });
    const verdict = repeatVerdict(
      { status: statusFromName(existing.status), payout: { currency: existing.currency, micros: existing.payoutMicros } },
      { status: draft.status, payout: draft.payout },
      REVERSED,
    );
    if (verdict.kind === 'duplicate') return { conversion: toConversion(existing), duplicate: true, outcome: 'duplicate', reason: verdict.reason };
    const conversion = await this.adjust(m, existing, { status: draft.status, payout: draft.payout, saleAmountMicros: draft.saleAmountMicros ?? null, payoutAbsent: !!draft.payoutAbsent }, opts.adjust, receivedAt, opts.postbackRequestId);
    return { conversion, duplicate: false, outcome: 'adjusted' };
  }

  /**
   * The postback edge's group commit, first half: the rows of a batch's new conversions with their encoded
   * ConversionReceived, as the parameters of CONVERSION_BATCH_CTES (built here, ids too, so each event is encoded
   * before the statement and stored only with a row actually inserted). Rows go in key order so concurrent
   * batches lock in the same order.
   */
  batchRows(items: BatchDraft[]): ConversionBatch {
    const ids = items.map(() => randomUUID());
    const created = items.map((it, i) => newConversion(ids[i], it.draft, it.receivedAt));
    const payloads = created.map(conversionEventPayload);
    const order = items.map((_it, i) => i).sort((a, b) => {
      const ka = conversionKey(items[a].draft);
      const kb = conversionKey(items[b].draft);
      return ka < kb ? -1 : ka > kb ? 1 : a - b;
    });
    // One JSON document (jsonParam in libs/database): per-column array literals, and pg's encoding of them, showed
    // per postback in the edge's profile. Payouts as decimal strings: micros may pass 2^53.
    const rows = jsonParam(
      order.map((i, ord) => {
        const { draft, receivedAt } = items[i];
        return {
          id: ids[i],
          partner_id: draft.partnerId,
          conversion_id: draft.conversionId,
          click_id: draft.clickId,
          payout_micros: draft.payout.micros.toString(),
          currency: draft.payout.currency,
          status: statusName(draft.status),
          occurred_ms: draft.occurredAt.getTime(),
          received_ms: receivedAt.getTime(),
          raw: draft.raw,
          transaction_id: draft.transactionId ?? null,
          event_id: draft.eventId ?? null,
          sale_amount_micros: draft.saleAmountMicros?.toString() ?? null,
          sub_ids: draft.subIds ?? {},
          payout_absent: !!draft.payoutAbsent,
          message_id: draft.messageId ?? null,
          test: !!draft.test,
          payload: payloads[i].toString('base64'),
          headers: items[i].headers,
          ord,
        };
      }),
    );
    return { ids, created, rows };
  }

  /**
   * The outcomes of a batch its lockless statement wrote (INTAKE_LOCKLESS_SQL, postback-intake.ts), which decided its
   * repeats itself: each stored, or a duplicate of the row it was compared with. `repeats` has a row per repeat: the
   * id drawn for it (`unit_id`), its kind of duplicate (`kind`: DUPLICATE_REASONS' key) and the stored row as the
   * statement's snapshot held it, or nulls when the batch itself inserted the key (the first of the key in arrival
   * order, since rows go in key, then arrival order).
   */
  locklessOutcomes(items: BatchDraft[], batch: ConversionBatch, repeats: Record<string, unknown>[]): StoreResult[] {
    const byId = new Map(repeats.map((r) => [String(r.unit_id), r]));
    const out: StoreResult[] = new Array(items.length);
    const insertedByKey = new Map<string, number>();
    items.forEach((it, i) => {
      if (byId.has(batch.ids[i])) return;
      out[i] = { conversion: batch.created[i], duplicate: false, outcome: 'stored' };
      if (!insertedByKey.has(conversionKey(it.draft))) insertedByKey.set(conversionKey(it.draft), i);
    });
    items.forEach((it, i) => {
      const r = byId.get(batch.ids[i]);
      if (!r) return;
      const first = insertedByKey.get(conversionKey(it.draft));
      const conversion = r.id !== null ? toConversion(entityOfRow(r)) : first !== undefined ? batch.created[first] : undefined;
      const reason = DUPLICATE_REASONS[r.kind as keyof typeof DUPLICATE_REASONS];
      // The statement compared each repeat with a row it names: anything else is an error of ours.
      if (!conversion || !reason) throw new Error(`conversion ${it.draft.partnerId}/${it.draft.conversionId}: the batch statement's verdict could not be read`);
      out[i] = { conversion, duplicate: true, outcome: 'duplicate', reason };
    });
    return out;
  }

  /**
   * The postback edge's group commit, second half, after CONVERSION_BATCH_CTES inserted the rows whose ids are
   * `inserted`: the others are repeats (of a stored key, or of a key earlier in the batch: the first stored, the others
   * repeats of it), read in one SELECT … FOR UPDATE and then given the usual rules in arrival order (duplicate, or an
   * adjustment with its ConversionAdjusted: rare, through `m`). `query` runs raw SQL on the connection of `m`. Results
   * are in input order.
   */
  async settleBatch(m: EntityManager, query: RawQuery, items: BatchDraft[], batch: ConversionBatch, inserted: Set<string>, cause: AdjustmentCause): Promise<StoreResult[]> {
    const out: StoreResult[] = new Array(items.length);
    const repeats: number[] = [];
    items.forEach((_it, i) => {
      if (inserted.has(batch.ids[i])) out[i] = { conversion: batch.created[i], duplicate: false, outcome: 'stored' };
      else repeats.push(i);
    });
    if (!repeats.length) return out;

    const key = (d: ConversionDraft) => conversionKey(d);
    const keys = [...new Map(repeats.map((i) => [key(items[i].draft), items[i].draft])).values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const rows = await query(
      'ingest-lock-repeated-conversions',
      `SELECT c.* FROM "ingest".conversions c
       JOIN unnest($1::text[], $2::text[]) AS k(partner_id, conversion_id) ON c.partner_id = k.partner_id AND c.conversion_id = k.conversion_id
       ORDER BY c.partner_id, c.conversion_id
       FOR UPDATE OF c`,
      [keys.map((d) => d.partnerId), keys.map((d) => d.conversionId)],
    );
    const current = new Map(rows.map((r) => entityOfRow(r)).map((e) => [`${e.partnerId}\u0000${e.conversionId}`, e]));
    for (const i of repeats) {
      const { draft, receivedAt, postbackRequestId, headers } = items[i];
      const existing = current.get(key(draft));
      // ON CONFLICT saw the row, so it is there (conversions are never deleted): anything else is an error of ours.
      if (!existing) throw new Error(`conversion ${draft.partnerId}/${draft.conversionId} conflicted but could not be read`);
      const verdict = repeatVerdict(
        { status: statusFromName(existing.status), payout: { currency: existing.currency, micros: existing.payoutMicros } },
        { status: draft.status, payout: draft.payout },
        REVERSED,
      );
      if (verdict.kind === 'duplicate') {
        out[i] = { conversion: toConversion(existing), duplicate: true, outcome: 'duplicate', reason: verdict.reason };
        continue;
      }
      const next = { status: draft.status, payout: draft.payout, saleAmountMicros: draft.saleAmountMicros ?? null, payoutAbsent: !!draft.payoutAbsent };
      // Its own request's headers: the batch is written outside any request's context.
      const conversion = await this.adjust(m, existing, next, cause, receivedAt, postbackRequestId, headers);
      // Later repeats of the key in this batch compare with the adjusted state.
      current.set(key(draft), Object.assign(new ConversionEntity(), existing, {
        status: statusName(next.status),
        payoutMicros: next.payout.micros,
        currency: next.payout.currency,
        saleAmountMicros: next.saleAmountMicros ?? existing.saleAmountMicros,
        payoutAbsent: next.payoutAbsent,
        updatedAt: receivedAt,
      }));
      out[i] = { conversion, duplicate: false, outcome: 'adjusted' };
    }
    return out;
  }

  /**
   * Stores many conversions of one partner in the caller's transaction: one multi-row insert for the new ones (one
   * ConversionReceived each, through the outbox: an import is rare and its rows are not relay sources), then the usual repeat rules, row by row, for keys already stored (or repeated in the
   * batch). Rows are taken in key order so concurrent batches lock in the same order.
   */
  async storeBatchIn(m: EntityManager, drafts: ConversionDraft[], receivedAt: Date, cause: AdjustmentCause): Promise<StoreResult['outcome'][]> {
    if (!drafts.length) return [];
    const order = drafts.map((d, i) => i).sort((a, b) => (drafts[a].conversionId < drafts[b].conversionId ? -1 : drafts[a].conversionId > drafts[b].conversionId ? 1 : a - b));
    const sorted = order.map((i) => drafts[i]);
    const inserted: { id: string; conversion_id: string }[] = await m.query(
      `INSERT INTO "ingest".conversions (partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at, received_at, raw,
         transaction_id, event_id, sale_amount_micros, sub_ids)
       SELECT t.partner_id, t.conversion_id, t.click_id, t.payout_micros, t.currency, t.status, t.occurred_at, $14, t.raw,
         t.transaction_id, t.event_id, t.sale_amount_micros, t.sub_ids
       FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[], $8::jsonb[],
         $9::text[], $10::text[], $11::bigint[], $12::jsonb[], $13::int[])
         AS t(partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at, raw, transaction_id, event_id, sale_amount_micros, sub_ids, ord)
       ORDER BY t.ord
       ON CONFLICT (partner_id, conversion_id) DO NOTHING
       RETURNING id, conversion_id`,
      [
        sorted.map((d) => d.partnerId),
        sorted.map((d) => d.conversionId),
        sorted.map((d) => d.clickId),
        sorted.map((d) => d.payout.micros.toString()),
        sorted.map((d) => d.payout.currency),
        sorted.map((d) => statusName(d.status)),
        sorted.map((d) => d.occurredAt),
        sorted.map((d) => jsonParam(d.raw)),
        sorted.map((d) => d.transactionId ?? null),
        sorted.map((d) => d.eventId ?? null),
        sorted.map((d) => d.saleAmountMicros?.toString() ?? null),
        sorted.map((d) => jsonParam(d.subIds ?? {})),
        sorted.map((_d, i) => i),
        receivedAt,
      ],
    );
    // A new row is exactly its draft (the defaults are known): no need to read 500 rows back.
    // The row inserted for a key is its first draft in order: a later one with the same key was skipped.
    const byKey = new Map<string, ConversionDraft>();
    for (const d of sorted) if (!byKey.has(d.conversionId)) byKey.set(d.conversionId, d);
    await this.outbox.addMany(
      m,
      Events.ConversionReceived,
      inserted.map((r) => ({ conversion: newConversion(r.id, byKey.get(r.conversion_id)!, receivedAt) })),
    );
    // The first row of each inserted key is the one stored; any later row with that key is a repeat.
    const fresh = new Set(inserted.map((r) => r.conversion_id));
    const outcomes: StoreResult['outcome'][] = new Array(drafts.length);
    for (const [k, i] of order.entries()) {
      const d = sorted[k];
      if (fresh.delete(d.conversionId)) outcomes[i] = 'stored';
      else outcomes[i] = (await this.storeIn(m, d, receivedAt, { adjust: cause })).outcome;
    }
    return outcomes;
  }

  /**
   * Reverses one conversion named by its narrowest key, in the caller's transaction: REVERSED, with a
   * ConversionAdjusted (cause "reversal"). Reversing it again changes nothing.
   */
  async reverseIn(m: EntityManager, partnerId: string, key: ReversalKey, at: Date, postbackRequestId?: string): Promise<ReversalResult> {
    let rows: ConversionEntity[];
    if ('conversionId' in key) {
      rows = await m.find(ConversionEntity, { where: { partnerId, conversionId: key.conversionId }, lock: { mode: 'pessimistic_write' } });
    } else {
      rows = await m.find(ConversionEntity, {
        where: { partnerId, transactionId: key.transactionId, eventId: key.eventId === null ? IsNull() : key.eventId },
        lock: { mode: 'pessimistic_write' },
      });
      if (rows.length > 1) {
        throw new InvalidArgumentError('transaction_id', `with this event_id matches ${rows.length} conversions; reverse by conversion_id`);
      }
    }
    const existing = rows[0];
    if (!existing) {
      throw new NotFoundError('conversion', 'conversionId' in key ? `${partnerId}/${key.conversionId}` : `${partnerId}/transaction ${key.transactionId} event ${key.eventId ?? '0'}`);
    }
    if (existing.status === statusName(REVERSED)) return { conversion: toConversion(existing), outcome: 'duplicate' };
    const payout = { currency: existing.currency, micros: existing.payoutMicros };
    const conversion = await this.adjust(m, existing, { status: REVERSED, payout, saleAmountMicros: null }, 'reversal', at, postbackRequestId);
    return { conversion, outcome: 'reversed' };
  }

  private async adjust(
    m: EntityManager,
    existing: ConversionEntity,
    next: { status: ConversionDraft['status']; payout: Money; saleAmountMicros: bigint | null; payoutAbsent?: boolean },
    cause: AdjustmentCause,
    at: Date,
    postbackRequestId: string | undefined,
    headers?: Record<string, string>,
  ): Promise<Conversion> {
    const previous = toConversion(existing);
    await m.query(
      `UPDATE "ingest".conversions SET status = $2, payout_micros = $3, currency = $4, sale_amount_micros = COALESCE($5, sale_amount_micros), updated_at = $6,
         payout_absent = COALESCE($7, payout_absent)
       WHERE id = $1`,
      [existing.id, statusName(next.status), next.payout.micros.toString(), next.payout.currency, next.saleAmountMicros?.toString() ?? null, at, next.payoutAbsent ?? null],
    );
    const adjustmentId = randomUUID();
    await m.query(
      `INSERT INTO "ingest".conversion_adjustments (id, conversion_ref, cause, previous_status, previous_payout_micros, previous_currency,
         status, payout_micros, currency, postback_request_id, adjusted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [adjustmentId, existing.id, cause, existing.status, existing.payoutMicros.toString(), existing.currency, statusName(next.status),
        next.payout.micros.toString(), next.payout.currency, postbackRequestId ?? null, at],
    );
    const conversion = toConversion(await m.findOneByOrFail(ConversionEntity, { id: existing.id }));
    await this.outbox.add(m, Events.ConversionAdjusted, {
      conversion,
      previousStatus: previous.status,
      previousPayout: previous.payout,
      adjustmentId,
      cause,
    }, headers);
    return conversion;
  }

  async get(partnerId: string, conversionId: string): Promise<Conversion> {
    const fields: FieldProblems = {};
    const partner = partnerIdProblem(partnerId);
    if (partner) fields.partner_id = partner;
    const conv = conversionId ? externalIdProblem(conversionId) : 'is required';
    if (conv) fields.conversion_id = conv;
    if (Object.keys(fields).length) throw InvalidArgumentError.of(fields);
    const row = await this.ds.getRepository(ConversionEntity).findOneBy({ partnerId, conversionId });
    if (!row) throw new NotFoundError('conversion', `${partnerId}/${conversionId}`);
    return toConversion(row);
  }

  /** Newest first by (received_at, id); fetches one extra row to know whether another page follows. */
  async list(req: ListConversionsRequest): Promise<{ conversions: Conversion[]; nextPageToken: string }> {
    const q = validateListRequest(req);
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (v: unknown) => {
      params.push(v);
      return `$${params.length}`;
    };
    if (q.partnerId) where.push(`partner_id = ${param(q.partnerId)}`);
    if (q.clickId) where.push(`click_id = ${param(q.clickId)}`);
    if (q.attributionState) where.push(`attribution_state = ${param(q.attributionState)}`);
    if (q.after) {
      // Microseconds since the epoch back to a timestamp exactly (no float on the way).
      where.push(
        `(received_at, id) < ('epoch'::timestamptz + ${param(q.after.receivedAtMicros)}::bigint * interval '1 microsecond', ${param(q.after.id)}::uuid)`,
      );
    }
    const keys: { id: string; received_us: string }[] = await this.ds.query(
      `SELECT id, (extract(epoch FROM received_at) * 1000000)::bigint::text AS received_us
       FROM "ingest".conversions ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY received_at DESC, id DESC
       LIMIT ${param(q.pageSize + 1)}`,
      params,
    );
    const page = keys.slice(0, q.pageSize);
    const rows = page.length ? await this.ds.getRepository(ConversionEntity).findBy({ id: In(page.map((k) => k.id)) }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const last = page[page.length - 1];
    return {
      conversions: page.flatMap((k) => (byId.has(k.id) ? [toConversion(byId.get(k.id)!)] : [])),
      nextPageToken: keys.length > q.pageSize ? encodePageToken({ receivedAtMicros: last.received_us, id: last.id }, q.filterKey) : '',
    };
  }

  /** Applies attribution's verdict; false when no such conversion is stored here. */
  /**
   * Keeps attribution's verdicts on the conversions, one statement for a batch (the last verdict of a conversion in
   * the batch wins: they come in stream order). Returns the verdicts naming no stored conversion (decisions of
   * conversions sent to attribution directly, never stored here).
   */
  async recordVerdicts(m: EntityManager, verdicts: AttributionVerdict[]): Promise<AttributionVerdict[]> {
    const last = new Map<string, AttributionVerdict>();
    for (const v of verdicts) last.set(`${v.partnerId}\u0000${v.conversionId}`, v);
    const vs = [...last.values()];
    if (!vs.length) return [];
    const rows: { partner_id: string; conversion_id: string }[] = await m.query(
      // In a WITH: TypeORM answers a bare UPDATE … RETURNING with [rows, count], which read as rows named nothing
      // and made every decision look like one for a conversion never stored here.
      `WITH u AS (
         UPDATE "ingest".conversions AS c
         SET attribution_state = v.state, attribution_reason = v.reason, credited_message_id = v.message_id
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS v(partner_id, conversion_id, state, reason, message_id)
         WHERE c.partner_id = v.partner_id AND c.conversion_id = v.conversion_id
         RETURNING c.partner_id, c.conversion_id)
       SELECT * FROM u`,
      [vs.map((v) => v.partnerId), vs.map((v) => v.conversionId), vs.map((v) => v.state), vs.map((v) => v.reason), vs.map((v) => v.creditedMessageId)],
    );
    const found = new Set(rows.map((r) => `${r.partner_id}\u0000${r.conversion_id}`));
    return vs.filter((v) => !found.has(`${v.partnerId}\u0000${v.conversionId}`));
  }
}
