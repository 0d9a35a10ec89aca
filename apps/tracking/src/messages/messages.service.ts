import { Inject, Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { outgoingContextHeaders } from '@trackly/observability';
import { FailedPreconditionError, NotFoundError, maskPhone, assertId } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Message } from '@trackly/contracts/tracking/v1/tracking';
import { MessageInput, validateMessageBatch } from '../domain/catalog.rules';
import { newShortCode } from '../domain/tokens';
import { toMessage } from '../tracking.mappers';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';
import { MessageEntity } from './message.entity';

/**
 * Sent messages: each gets one unguessable short code; registering the same message id again is a no-op. A batch
 * (up to 10,000) costs three statements whatever its size: one catalog check (locking the named catalog rows), one
 * statement inserting the messages and, for those that are new, their MessageSent outbox rows, and a read-back of
 * only the ids that were registered before.
 */
@Injectable()
export class MessagesService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(TRACKING_CONFIG) private readonly config: TrackingConfig,
  ) {}

  async register(input: MessageInput[]): Promise<Message[]> {
    const batch = validateMessageBatch(input);
    const ids = batch.map((m) => m.messageId);
    const codes = batch.map(() => newShortCode());
    // Encoded for every message; the statement stores the events of those it inserted.
    const events = this.outbox.encodeRows(
      Events.MessageSent,
      batch.map((x) => ({
        messageId: x.messageId,
        contactId: x.contactId,
        phoneMasked: maskPhone(x.phoneE164),
        campaignId: x.campaignId,
        creativeId: x.creativeId,
        offerId: x.offerId,
        sentAt: x.sentAt,
      })),
      batch.map(() => outgoingContextHeaders(true)),
    );
    const rows = await this.ds.transaction(async (m) => {
      await this.assertCatalogExists(m, batch);
      const inserted: StoredRow[] = await m.query(
        `WITH input AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
             $8::text[], $9::uuid[], $10::bytea[], $11::jsonb[])
             AS t(message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code, event_id, payload, headers)
         ), ins AS (
           INSERT INTO "tracking".messages (message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code)
           SELECT message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code FROM input
           ON CONFLICT (message_id) DO NOTHING
           RETURNING message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code
         ), evt AS (
           INSERT INTO ${events.table} (id, subject, payload, headers)
           SELECT i.event_id, $12, i.payload, i.headers FROM ins JOIN input AS i USING (message_id)
         )
         SELECT * FROM ins`,
        [
          ids,
          batch.map((x) => x.contactId),
          batch.map((x) => x.phoneE164),
          batch.map((x) => x.campaignId),
          batch.map((x) => x.creativeId),
          batch.map((x) => x.offerId),
          batch.map((x) => x.sentAt.toISOString()),
          codes,
          events.ids,
          events.bodies,
          events.headers,
          events.subject,
        ],
      );
      // Registered before (same id): the stored row and its short code are the answer.
      const fresh = new Set(inserted.map((r) => r.message_id));
      const earlier = ids.filter((id) => !fresh.has(id));
      const stored: StoredRow[] = earlier.length
        ? await m.query(
            `SELECT message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code
             FROM "tracking".messages WHERE message_id = ANY($1::text[])`,
            [earlier],
          )
        : [];
      return [...inserted, ...stored];
    });
    this.relay.kick();
    const byId = new Map(rows.map((r) => [r.message_id, r]));
    return ids.map((id) => toMessage(toEntity(byId.get(id)!), this.config.TRACKING_PUBLIC_URL));
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
    const [counts]: { n: string; first: Date | null }[] = await this.ds.query(
      `SELECT count(*) AS n,
              (SELECT clicked_at FROM "tracking".clicks WHERE message_id = $1 AND click_class = 'HUMAN'
               ORDER BY xid NULLS FIRST, seq NULLS FIRST, clicked_at LIMIT 1) AS first
       FROM "tracking".clicks WHERE message_id = $1 AND click_class = 'HUMAN'`,
      [messageId],
    );
    return { message: toMessage(row, this.config.TRACKING_PUBLIC_URL), humanClicks: counts.n, firstClickedAt: counts.first ?? undefined };
  }

  /**
   * One statement for the batch's distinct catalog ids. FOR KEY SHARE is the lock a foreign-key check takes: the rows
   * cannot be deleted or re-keyed before this transaction commits.
   */
  private async assertCatalogExists(m: EntityManager, batch: Required<MessageInput>[]): Promise<void> {
    const wanted = {
      campaign_id: [...new Set(batch.map((b) => b.campaignId))],
      creative_id: [...new Set(batch.map((b) => b.creativeId))],
      offer_id: [...new Set(batch.map((b) => b.offerId))],
    };
    const found: { kind: keyof typeof wanted; id: string }[] = await m.query(
      `WITH ca AS (SELECT campaign_id FROM "tracking".campaigns WHERE campaign_id = ANY($1::text[]) FOR KEY SHARE),
            cr AS (SELECT creative_id FROM "tracking".creatives WHERE creative_id = ANY($2::text[]) FOR KEY SHARE),
            o AS (SELECT offer_id FROM "tracking".offers WHERE offer_id = ANY($3::text[]) FOR KEY SHARE)
       SELECT 'campaign_id' AS kind, campaign_id AS id FROM ca
       UNION ALL SELECT 'creative_id', creative_id FROM cr
       UNION ALL SELECT 'offer_id', offer_id FROM o`,
      [wanted.campaign_id, wanted.creative_id, wanted.offer_id],
    );
    const have = new Set(found.map((r) => `${r.kind}:${r.id}`));
    const missing: string[] = [];
    for (const [key, values] of Object.entries(wanted)) {
      for (const v of values) if (!have.has(`${key}:${v}`)) missing.push(`${key} "${v}"`);
    }
    if (missing.length) throw new FailedPreconditionError(`unknown ${missing.join(', ')}: upsert it first`);
  }
}

interface StoredRow {
  message_id: string;
  contact_id: string;
  phone_e164: string;
  campaign_id: string;
  creative_id: string;
  offer_id: string;
  sent_at: Date;
  short_code: string;
}

function toEntity(r: StoredRow): MessageEntity {
  return Object.assign(new MessageEntity(), {
    messageId: r.message_id,
    contactId: r.contact_id,
    phoneE164: r.phone_e164,
    campaignId: r.campaign_id,
    creativeId: r.creative_id,
    offerId: r.offer_id,
    sentAt: r.sent_at,
    shortCode: r.short_code,
  });
}
