import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager, In } from 'typeorm';
import { CLOCK, Clock, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import type { ListConversionsRequest, SubmitConversionRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import type { AttributionVerdict } from '../domain/attribution-verdict';
import { ConversionDraft, externalIdProblem, FieldProblems, orThrow, partnerIdProblem, statusName, validateSubmission } from '../domain/conversion.rules';
import { encodePageToken, validateListRequest } from '../domain/conversion-listing';
import { toConversion } from '../ingest.mappers';
import { ConversionEntity } from './conversion.entity';

export interface StoreResult {
  /** The stored conversion: the first one stored, for a duplicate. */
  conversion: Conversion;
  duplicate: boolean;
}

/** Conversions: stored once per (partner_id, conversion_id), announced through the outbox when new. */
@Injectable()
export class ConversionsService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** IngestService.SubmitConversion: the same rules and the same idempotency as the postback edge. */
  async submit(req: SubmitConversionRequest): Promise<StoreResult> {
    const receivedAt = this.clock.now();
    const draft = orThrow(validateSubmission(req, receivedAt));
    const result = await this.ds.transaction((m) => this.storeIn(m, draft, receivedAt));
    this.relay.kick();
    return result;
  }

  /**
   * Inserts unless (partner_id, conversion_id) exists; only a new row emits ConversionReceived, in the caller's
   * transaction. A concurrent insert of the same key waits for the other transaction and then counts as a duplicate.
   */
  async storeIn(m: EntityManager, draft: ConversionDraft, receivedAt: Date): Promise<StoreResult> {
    const inserted: { id: string }[] = await m.query(
      `INSERT INTO "ingest".conversions (partner_id, conversion_id, click_id, payout_micros, currency, status, occurred_at, received_at, raw)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
       ON CONFLICT (partner_id, conversion_id) DO NOTHING
       RETURNING id`,
      [
        draft.partnerId,
        draft.conversionId,
        draft.clickId,
        draft.payout.micros.toString(),
        draft.payout.currency,
        statusName(draft.status),
        draft.occurredAt,
        receivedAt,
        JSON.stringify(draft.raw),
      ],
    );
    if (inserted.length) {
      const conversion = toConversion(await m.findOneByOrFail(ConversionEntity, { id: inserted[0].id }));
      await this.outbox.add(m, Events.ConversionReceived, { conversion });
      return { conversion, duplicate: false };
    }
    const existing = await m.findOneByOrFail(ConversionEntity, { partnerId: draft.partnerId, conversionId: draft.conversionId });
    return { conversion: toConversion(existing), duplicate: true };
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
  async recordVerdict(m: EntityManager, v: AttributionVerdict): Promise<boolean> {
    const rows: { id: string }[] = await m.query(
      `WITH updated AS (
         UPDATE "ingest".conversions SET attribution_state = $3, attribution_reason = $4, credited_message_id = $5
         WHERE partner_id = $1 AND conversion_id = $2
         RETURNING id)
       SELECT id FROM updated`,
      [v.partnerId, v.conversionId, v.state, v.reason, v.creditedMessageId],
    );
    return rows.length > 0;
  }
}
