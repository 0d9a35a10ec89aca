import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rawPool } from '@trackly/database';
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
  /** Context headers (request id, trace) of the request that made the hit: its event carries them. */
  headers: Record<string, string>;
}

const RETRYABLE = new Set(['40P01', '40001']); // deadlock, serialization failure: the whole batch is retried

/**
 * Writes a batch of hits in ONE statement (so one round trip, and its own transaction): the message counters (HUMAN
 * hits only), one multi-row INSERT of the clicks and one of their ClickRecorded outbox rows. The first-click flag is
 * decided in SQL, so each hit's event is encoded twice in JS (as first click and as later click) when it could be
 * the first, and the statement stores the variant that is true. The counters are locked in message_id order, so
 * concurrent batches (in this process or another replica) queue on a message rather than deadlock, and exactly one
 * HUMAN hit ever sees click_count = 0 and becomes the message's first click.
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
        const clicks = await this.writeOnce(items);
        this.relay.kick();
        return clicks;
      } catch (e) {
        if (attempt >= 3 || !RETRYABLE.has((e as { code?: string }).code ?? '')) throw e;
      }
    }
  }

  private async writeOnce(items: PendingClick[]): Promise<Click[]> {
    // "lead": the first HUMAN hit of its message within this batch; it is the first click if the count was 0.
    const seen = new Set<string>();
    const lead = items.map((it) => it.classification.class === 'HUMAN' && !seen.has(it.link.messageId) && !!seen.add(it.link.messageId));
    const later = items.map((it) => toPendingClick(it, false));
    const events = this.outbox.encodeRows(Events.ClickRecorded, later.map((click) => ({ click })), items.map((it) => it.headers));
    const asFirst = items.map((it, i) => (lead[i] ? Buffer.from(Events.ClickRecorded.codec.encode({ click: toPendingClick(it, true) }).finish()) : events.bodies[i]));
    const col = <V>(f: (it: PendingClick) => V) => items.map(f);
    // On the raw pool: TypeORM's per-query overhead showed in the click edge's CPU profile.
    const { rows } = await rawPool(this.ds).query<{ click_id: string; first_click_on_message: boolean }>(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
           $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::boolean[],
           $14::uuid[], $15::bytea[], $16::bytea[], $17::jsonb[])
           AS t(click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at, user_agent, ip,
                click_class, classification_reason, classifier_version, lead, event_id, event_later, event_first, event_headers)
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
       ), evt AS (
         INSERT INTO ${events.table} (id, subject, payload, headers)
         SELECT i.event_id, $18, CASE WHEN ins.first_click_on_message THEN i.event_first ELSE i.event_later END, i.event_headers
         FROM ins JOIN input AS i USING (click_id)
       )
       SELECT click_id, first_click_on_message FROM ins`,
      [
        col((it) => it.clickId), col((it) => it.link.messageId), col((it) => it.link.contactId), col((it) => it.link.offerId),
        col((it) => it.link.campaignId), col((it) => it.link.creativeId), col((it) => it.clickedAt.toISOString()),
        col((it) => clip(it.userAgent, 512)), col((it) => clip(it.ip, 64)), col((it) => it.classification.class),
        col((it) => clip(it.classification.reason, 256)), col((it) => it.classification.version), lead,
        events.ids, events.bodies, asFirst, events.headers, events.subject,
      ],
    );
    if (rows.length !== items.length) throw new Error(`click batch wrote ${rows.length} rows for ${items.length} hits`);
    const first = new Map(rows.map((r) => [r.click_id, r.first_click_on_message]));
    return later.map((click) => (first.get(click.clickId) ? { ...click, firstClickOnMessage: true } : click));
  }
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

/** The Click as the event and the API describe it, with the first-click flag given (SQL decides which is true). */
function toPendingClick(it: PendingClick, firstClickOnMessage: boolean): Click {
  const e = Object.assign(new ClickEntity(), {
    clickId: it.clickId,
    messageId: it.link.messageId,
    contactId: it.link.contactId,
    offerId: it.link.offerId,
    campaignId: it.link.campaignId,
    creativeId: it.link.creativeId,
    clickedAt: it.clickedAt,
    firstClickOnMessage,
    userAgent: clip(it.userAgent, 512),
    ip: clip(it.ip, 64),
    clickClass: it.classification.class,
    classificationReason: clip(it.classification.reason, 256),
    classifierVersion: it.classification.version,
  });
  return toClick(e, it.link.sentAt);
}
