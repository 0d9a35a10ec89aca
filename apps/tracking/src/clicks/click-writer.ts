import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import type { Classification } from '../domain/click-classifier';
import { toClick } from '../tracking.mappers';
import { ClickEntity } from './click.entity';
import type { Link } from './link-cache';

/** One classified hit waiting to be written. */
export interface PendingClick {
  clickId: string;
  link: Link;
  clickedAt: Date;
  classification: Classification;
  userAgent: string;
  ip: string;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure: the whole batch is retried

/**
 * Writes a batch of hits in one transaction: the message counters (HUMAN hits only) and one multi-row INSERT of the
 * clicks in one statement, then one multi-row INSERT of their ClickRecorded outbox rows. The counters are locked in message_id order,
 * so concurrent batches (in this process or another replica) queue on a message rather than deadlock, and exactly
 * one HUMAN hit ever sees click_count = 0 and becomes the message's first click.
 */
@Injectable()
export class ClickWriter {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
  ) {}

  async write(items: PendingClick[]): Promise<Click[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const clicks = await this.ds.transaction((m) => this.writeIn(m, items));
        this.relay.kick();
        return clicks;
      } catch (e) {
        if (attempt >= 3 || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      }
    }
  }

  /** Two statements: counters + clicks together (the first-click flag is decided in SQL), then the outbox rows. */
  private async writeIn(m: EntityManager, items: PendingClick[]): Promise<Click[]> {
    // "lead": the first HUMAN hit of its message within this batch; it is the first click if the count was 0.
    const seen = new Set<string>();
    const lead = items.map((it) => it.classification.class === 'HUMAN' && !seen.has(it.link.messageId) && !!seen.add(it.link.messageId));
    const col = <V>(f: (it: PendingClick) => V) => items.map(f);
    const rows: { click_id: string; first_click_on_message: boolean }[] = await m.query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[])
           AS t(click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip,
                click_class, classification_reason, classifier_version, lead)
       ), inc AS (
         SELECT message_id, count(*)::int AS n, min(clicked_at) FILTER (WHERE lead) AS first_at
         FROM input WHERE click_class = 'HUMAN' GROUP BY message_id
       ), locked AS (
         SELECT message_id FROM "tracking".messages WHERE message_id IN (SELECT message_id FROM inc)
         ORDER BY message_id FOR UPDATE
       ), counted AS (
         UPDATE "tracking".messages AS msg
         SET click_count = msg.click_count + inc.n, first_clicked_at = COALESCE(msg.first_clicked_at, inc.first_at)
         FROM locked JOIN inc USING (message_id)
         WHERE msg.message_id = locked.message_id
         RETURNING msg.message_id, msg.click_count - inc.n AS before
       ), ins AS (
         INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at,
           first_click_on_message, user_agent, ip, click_class, classification_reason, classifier_version)
         SELECT i.click_id, i.message_id, i.contact_id, i.offer_id, i.campaign_id, i.creative_id, i.clicked_at,
           COALESCE(i.lead AND c.before = 0, false), i.user_agent, i.ip, i.click_class, i.classification_reason, i.classifier_version
         FROM input AS i LEFT JOIN counted AS c USING (message_id)
         RETURNING click_id, first_click_on_message
       )
       SELECT * FROM ins`,
      [
        col((it) => it.clickId), col((it) => it.link.messageId), col((it) => it.link.contactId), col((it) => it.link.offerId),
        col((it) => it.link.campaignId), col((it) => it.link.creativeId), col((it) => it.clickedAt.toISOString()),
        col((it) => it.userAgent.slice(0, 512)), col((it) => it.ip.slice(0, 64)), col((it) => it.classification.class),
        col((it) => it.classification.reason.slice(0, 256)), col((it) => it.classification.version), lead,
      ],
    );
    const first = new Map(rows.map((r) => [r.click_id, r.first_click_on_message]));
    const clicks = items.map((it) =>
      toClick(
        m.create(ClickEntity, {
          clickId: it.clickId,
          messageId: it.link.messageId,
          contactId: it.link.contactId,
          offerId: it.link.offerId,
          campaignId: it.link.campaignId,
          creativeId: it.link.creativeId,
          clickedAt: it.clickedAt,
          firstClickOnMessage: first.get(it.clickId) ?? false,
          userAgent: it.userAgent.slice(0, 512),
          ip: it.ip.slice(0, 64),
          clickClass: it.classification.class,
          classificationReason: it.classification.reason.slice(0, 256),
          classifierVersion: it.classification.version,
        }),
        it.link.sentAt,
      ),
    );
    await this.outbox.addMany(m, Events.ClickRecorded, clicks.map((click) => ({ click })));
    return clicks;
  }
}
