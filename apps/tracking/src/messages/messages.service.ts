import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { rawPool } from '@trackly/database';
import { currentRequestId } from '@trackly/observability';
import { FailedPreconditionError, NotFoundError, assertId } from '@trackly/kernel';
import type { Message } from '@trackly/contracts/tracking/v1/tracking';
import { MessageInput, validateMessageBatch } from '../domain/catalog.rules';
import { earliestClickTime } from '../domain/click-time';
import { newShortCode } from '../domain/short-codes';
import { toMessage, trackedUrl } from '../tracking.mappers';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';
import { MessageEntity } from './message.entity';
import { MessageEventsRelay } from './message-events';

/**
 * A RegisterMessages batch (up to 10,000) is ONE statement, so one round trip and its own transaction:
 * - the catalog check: the batch's distinct campaign, creative and offer ids, read FOR KEY SHARE (the lock a foreign
 *   key check takes, so none can be deleted or re-keyed before the batch commits); any missing id and nothing is
 *   inserted;
 * - the insert of the messages (ON CONFLICT (message_id) DO NOTHING: registering an id again is a no-op), each row
 *   stamped with the transaction id for the relay that publishes it as MessageSent (message-events.ts). No outbox
 *   row: the message row is its event's source.
 * The columns travel as one comma-joined string each (ids, numbers and codes cannot hold a comma), split by
 * string_to_array: pg's array serialisation quoted and escaped 70,000 strings per batch. Only a count comes back;
 * a batch holding ids registered before reads the stored rows back (their first short codes are the answer).
 */
const REGISTER = {
  name: 'tracking.register-messages.v1',
  text: `WITH ca AS (SELECT campaign_id FROM "tracking".campaigns WHERE campaign_id = ANY($8::text[]) FOR KEY SHARE),
      cr AS (SELECT creative_id FROM "tracking".creatives WHERE creative_id = ANY($9::text[]) FOR KEY SHARE),
      o AS (SELECT offer_id FROM "tracking".offers WHERE offer_id = ANY($10::text[]) FOR KEY SHARE),
      missing AS (
        SELECT 'campaign_id' AS kind, id FROM unnest($8::text[]) AS id WHERE id NOT IN (SELECT campaign_id FROM ca)
        UNION ALL SELECT 'creative_id', id FROM unnest($9::text[]) AS id WHERE id NOT IN (SELECT creative_id FROM cr)
        UNION ALL SELECT 'offer_id', id FROM unnest($10::text[]) AS id WHERE id NOT IN (SELECT offer_id FROM o)
      ),
      ins AS (
        INSERT INTO "tracking".messages (message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code, request_id, xid)
        SELECT i.message_id, i.contact_id, i.phone_e164, i.campaign_id, i.creative_id, i.offer_id, to_timestamp(i.sent_ms::float8 / 1000),
          i.short_code, $11, pg_current_xact_id()
        FROM unnest(string_to_array($1, ','), string_to_array($2, ','), string_to_array($3, ','), string_to_array($4, ','),
          string_to_array($5, ','), string_to_array($6, ','), string_to_array($7, ',')::bigint[], string_to_array($12, ','))
          AS i(message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_ms, short_code)
        WHERE NOT EXISTS (SELECT 1 FROM missing)
        ON CONFLICT (message_id) DO NOTHING
        RETURNING 1
      )
    SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT coalesce(json_agg(kind || ' "' || id || '"'), '[]'::json) FROM missing) AS missing`,
};

const SHORT_CODE_TAKEN = 'IDX_messages_short_code';

@Injectable()
export class MessagesService implements BeforeApplicationShutdown {
  private readonly pool: Pool;

  constructor(
    private readonly ds: DataSource,
    private readonly events: MessageEventsRelay,
    @Inject(TRACKING_CONFIG) private readonly config: TrackingConfig,
  ) {
    this.pool = rawPool(ds);
  }

  async register(input: MessageInput[]): Promise<Message[]> {
    const batch = validateMessageBatch(input);
    const n = batch.length;
    const cols = { ids: new Array<string>(n), contacts: new Array<string>(n), phones: new Array<string>(n), campaigns: new Array<string>(n), creatives: new Array<string>(n), offers: new Array<string>(n), sent: new Array<number>(n) };
    for (let i = 0; i < n; i++) {
      const m = batch[i];
      cols.ids[i] = m.messageId;
      cols.contacts[i] = m.contactId;
      cols.phones[i] = m.phoneE164;
      cols.campaigns[i] = m.campaignId;
      cols.creatives[i] = m.creativeId;
      cols.offers[i] = m.offerId;
      cols.sent[i] = m.sentAt.getTime();
    }
    const joined = [cols.ids, cols.contacts, cols.phones, cols.campaigns, cols.creatives, cols.offers, cols.sent].map((c) => c.join(','));
    const catalog = [[...new Set(cols.campaigns)], [...new Set(cols.creatives)], [...new Set(cols.offers)]];
    const requestId = currentRequestId() ?? null;
    for (let attempt = 1; ; attempt++) {
      const codes = Array.from({ length: n }, () => newShortCode());
      let result: { inserted: number; missing: string[] };
      try {
        ({ rows: [result] } = await this.pool.query<{ inserted: number; missing: string[] }>({
          ...REGISTER,
          values: [...joined, ...catalog, requestId, codes.join(',')],
        }));
      } catch (e) {
        // 71 random bits per code: a clash with a stored code is next to impossible, but must not fail the batch.
        if ((e as { constraint?: string }).constraint === SHORT_CODE_TAKEN && attempt < 3) continue;
        throw e;
      }
      if (result.missing.length) throw new FailedPreconditionError(`unknown ${result.missing.join(', ')}: upsert it first`);
      if (result.inserted) this.events.kick();
      if (result.inserted === n) {
        const base = this.config.TRACKING_PUBLIC_URL;
        return batch.map((m, i) => ({
          messageId: m.messageId,
          contactId: m.contactId,
          phoneE164: m.phoneE164,
          campaignId: m.campaignId,
          creativeId: m.creativeId,
          offerId: m.offerId,
          sentAt: m.sentAt,
          shortCode: codes[i],
          trackedUrl: trackedUrl(base, codes[i]),
        }));
      }
      // Some (or all) were registered before: the stored rows, with their first short codes, are the answer.
      return this.readBack(cols.ids);
    }
  }

  /**
   * The message, with its HUMAN clicks counted and its first click's time read from the clicks (index on
   * message_id): the click edge writes one row per click and nothing to the message.
   */
  async get(messageId: string): Promise<{ message: Message; humanClicks: string; firstClickedAt: Date | undefined }> {
    assertId(messageId, 'message_id');
    const row = await this.ds.getRepository(MessageEntity).findOneBy({ messageId });
    if (!row) throw new NotFoundError('message', messageId);
    // The first click is the first HUMAN one in commit order (click-events.ts); rows from before xid was recorded first.
    // Its clicks were recorded no earlier than a day before it was registered or sent (earliestClickTime): the bound
    // leaves out the partitions (by day of clicked_at) older than that.
    const since = earliestClickTime(row.createdAt, row.sentAt);
    const [counts]: { n: string; first: Date | null }[] = await this.ds.query(
      `SELECT count(*) AS n,
              (SELECT clicked_at FROM "tracking".clicks WHERE message_id = $1 AND click_class = 'HUMAN' AND clicked_at >= $2
               ORDER BY xid NULLS FIRST, seq NULLS FIRST, clicked_at LIMIT 1) AS first
       FROM "tracking".clicks WHERE message_id = $1 AND click_class = 'HUMAN' AND clicked_at >= $2`,
      [messageId, since],
    );
    return { message: toMessage(row, this.config.TRACKING_PUBLIC_URL), humanClicks: counts.n, firstClickedAt: counts.first ?? undefined };
  }

  /** After the gRPC server drained (no call can register more): the last MessageSent events go out. */
  beforeApplicationShutdown(): Promise<void> {
    return this.events.stop();
  }

  private async readBack(ids: string[]): Promise<Message[]> {
    const rows: MessageEntity[] = await this.ds.getRepository(MessageEntity).createQueryBuilder('m').where('m.message_id = ANY(:ids)', { ids }).getMany();
    const byId = new Map(rows.map((r) => [r.messageId, r]));
    return ids.map((id) => toMessage(byId.get(id)!, this.config.TRACKING_PUBLIC_URL));
  }
}
