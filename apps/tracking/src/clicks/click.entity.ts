import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { HitClass } from '../domain/click-classifier';

@Entity({ name: 'clicks' })
export class ClickEntity {
  @PrimaryColumn({ name: 'click_id', type: 'text' })
  clickId!: string;

  // Indexed with xid and seq for HUMAN clicks only (clicks_message_human_idx, a partial index built by migration).
  @Column({ name: 'message_id', type: 'text' })
  messageId!: string;

  @Column({ name: 'contact_id', type: 'text' })
  contactId!: string;

  @Column({ name: 'offer_id', type: 'text' })
  offerId!: string;

  @Column({ name: 'campaign_id', type: 'text' })
  campaignId!: string;

  @Column({ name: 'creative_id', type: 'text' })
  creativeId!: string;

  @Column({ name: 'clicked_at', type: 'timestamptz' })
  clickedAt!: Date;

  @Column({ name: 'first_click_on_message', type: 'boolean' })
  firstClickOnMessage!: boolean;

  @Column({ name: 'user_agent', type: 'text' })
  userAgent!: string;

  @Column({ name: 'ip', type: 'text' })
  ip!: string;

  @Column({ name: 'click_class', type: 'text', default: 'HUMAN' })
  clickClass!: HitClass;

  @Column({ name: 'classification_reason', type: 'text', default: '' })
  classificationReason!: string;

  @Column({ name: 'classifier_version', type: 'text', default: '' })
  classifierVersion!: string;
}
