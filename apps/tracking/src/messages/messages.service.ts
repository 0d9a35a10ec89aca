import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
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
 * (up to 10,000) is a fixed number of statements whatever its size: three catalog checks, one multi-row INSERT of
 * the messages, one multi-row INSERT of their MessageSent outbox rows, one read-back.
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
    const rows = await this.ds.transaction(async (m) => {
      await this.assertCatalogExists(m, batch);
      const inserted: { message_id: string }[] = await m.query(
        `INSERT INTO "tracking".messages (message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
         ON CONFLICT (message_id) DO NOTHING
         RETURNING message_id`,
        [
          ids,
          batch.map((x) => x.contactId),
          batch.map((x) => x.phoneE164),
          batch.map((x) => x.campaignId),
          batch.map((x) => x.creativeId),
          batch.map((x) => x.offerId),
          batch.map((x) => x.sentAt.toISOString()),
          batch.map(() => newShortCode()),
        ],
      );
      const fresh = new Set(inserted.map((r) => r.message_id));
      const fresh_batch = batch.filter((x) => fresh.has(x.messageId));
      await this.outbox.addMany(
        m,
        Events.MessageSent,
        fresh_batch.map((x) => ({
          messageId: x.messageId,
          contactId: x.contactId,
          phoneMasked: maskPhone(x.phoneE164),
          campaignId: x.campaignId,
          creativeId: x.creativeId,
          offerId: x.offerId,
          sentAt: x.sentAt,
        })),
      );
      // Fresh and previously registered alike: the stored row (and short code) is the answer.
      const stored: { message_id: string; contact_id: string; phone_e164: string; campaign_id: string; creative_id: string; offer_id: string; sent_at: Date; short_code: string }[] =
        await m.query(
          `SELECT message_id, contact_id, phone_e164, campaign_id, creative_id, offer_id, sent_at, short_code
           FROM "tracking".messages WHERE message_id = ANY($1::text[])`,
          [ids],
        );
      return stored.map((r) =>
        m.create(MessageEntity, {
          messageId: r.message_id,
          contactId: r.contact_id,
          phoneE164: r.phone_e164,
          campaignId: r.campaign_id,
          creativeId: r.creative_id,
          offerId: r.offer_id,
          sentAt: r.sent_at,
          shortCode: r.short_code,
        }),
      );
    });
    this.relay.kick();
    const byId = new Map(rows.map((r) => [r.messageId, r]));
    return ids.map((id) => toMessage(byId.get(id)!, this.config.TRACKING_PUBLIC_URL));
  }

  async get(messageId: string): Promise<Message> {
    assertId(messageId, 'message_id');
    const row = await this.ds.getRepository(MessageEntity).findOneBy({ messageId });
    if (!row) throw new NotFoundError('message', messageId);
    return toMessage(row, this.config.TRACKING_PUBLIC_URL);
  }

  private async assertCatalogExists(m: import('typeorm').EntityManager, batch: Required<MessageInput>[]): Promise<void> {
    const missing: string[] = [];
    for (const [table, key, values] of [
      ['campaigns', 'campaign_id', batch.map((b) => b.campaignId)],
      ['creatives', 'creative_id', batch.map((b) => b.creativeId)],
      ['offers', 'offer_id', batch.map((b) => b.offerId)],
    ] as const) {
      const wanted = [...new Set(values)];
      const found: Record<string, string>[] = await m.query(`SELECT ${key} FROM "tracking".${table} WHERE ${key} = ANY($1::text[])`, [wanted]);
      const have = new Set(found.map((r) => r[key]));
      for (const v of wanted) if (!have.has(v)) missing.push(`${key} "${v}"`);
    }
    if (missing.length) throw new FailedPreconditionError(`unknown ${missing.join(', ')}: upsert it first`);
  }
}
