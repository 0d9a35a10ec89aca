import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CLOCK, Clock, NotFoundError, assertId } from '@trackly/kernel';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import { renderDestination } from '../domain/destination-url';
import { newClickId, SHORT_CODE_PATTERN } from '../domain/tokens';
import { toClick } from '../tracking.mappers';
import { ClickEntity } from './click.entity';
import { MessageEntity } from '../messages/message.entity';

export interface ClickRequest {
  userAgent: string;
  ip: string;
}

/** The click edge's rule: record the click durably (with its outbox row), then say where to send the contact. */
@Injectable()
export class ClicksService {
  constructor(
    private readonly ds: DataSource,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Records a click on a short code and returns the offer URL with the click id filled in. */
  async recordClick(shortCode: string, req: ClickRequest): Promise<{ destination: string; click: Click }> {
    if (!SHORT_CODE_PATTERN.test(shortCode)) throw new NotFoundError('link', shortCode);
    const clickedAt = this.clock.now();
    const clickId = newClickId();
    const result = await this.ds.transaction(async (m) => {
      // One statement finds the link and counts the click; the row lock orders concurrent clicks on one message,
      // so exactly one of them is the first. (A CTE, because TypeORM returns UPDATE results as [rows, count].)
      const rows: { message_id: string; contact_id: string; campaign_id: string; creative_id: string; offer_id: string; sent_at: Date; click_count: number; destination_url_template: string }[] =
        await m.query(
          `WITH counted AS (
           UPDATE "tracking".messages AS msg
           SET click_count = msg.click_count + 1, first_clicked_at = COALESCE(msg.first_clicked_at, $2)
           FROM "tracking".offers AS o
           WHERE msg.short_code = $1 AND o.offer_id = msg.offer_id
           RETURNING msg.message_id, msg.contact_id, msg.campaign_id, msg.creative_id, msg.offer_id, msg.sent_at,
                     msg.click_count, o.destination_url_template)
           SELECT * FROM counted`,
          [shortCode, clickedAt],
        );
      const row = rows[0];
      if (!row) return undefined;
      const entity = m.create(ClickEntity, {
        clickId,
        messageId: row.message_id,
        contactId: row.contact_id,
        offerId: row.offer_id,
        campaignId: row.campaign_id,
        creativeId: row.creative_id,
        clickedAt,
        firstClickOnMessage: row.click_count === 1,
        userAgent: req.userAgent.slice(0, 512),
        ip: req.ip.slice(0, 64),
      });
      await m.insert(ClickEntity, entity);
      const click = toClick(entity, row.sent_at);
      await this.outbox.add(m, Events.ClickRecorded, { click });
      const destination = renderDestination(row.destination_url_template, {
        click_id: clickId,
        message_id: row.message_id,
        campaign_id: row.campaign_id,
        creative_id: row.creative_id,
        offer_id: row.offer_id,
      });
      return { destination, click };
    });
    if (!result) throw new NotFoundError('link', shortCode);
    this.relay.kick();
    return result;
  }

  async get(clickId: string): Promise<Click> {
    assertId(clickId, 'click_id');
    const click = await this.ds.getRepository(ClickEntity).findOneBy({ clickId });
    if (!click) throw new NotFoundError('click', clickId);
    const message = await this.ds.getRepository(MessageEntity).findOneBy({ messageId: click.messageId });
    return toClick(click, message?.sentAt);
  }
}
