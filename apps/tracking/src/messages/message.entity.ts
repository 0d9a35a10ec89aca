import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

@Entity({ name: 'messages' })
export class MessageEntity {
  @PrimaryColumn({ name: 'message_id', type: 'text' })
  messageId!: string;

  @Index()
  @Column({ name: 'contact_id', type: 'text' })
  contactId!: string;

  @Column({ name: 'phone_e164', type: 'text' })
  phoneE164!: string;

  @Column({ name: 'campaign_id', type: 'text' })
  campaignId!: string;

  @Column({ name: 'creative_id', type: 'text' })
  creativeId!: string;

  @Column({ name: 'offer_id', type: 'text' })
  offerId!: string;

  @Column({ name: 'sent_at', type: 'timestamptz' })
  sentAt!: Date;

  @Index({ unique: true })
  @Column({ name: 'short_code', type: 'text' })
  shortCode!: string;

  @Column({ name: 'click_count', type: 'int', default: 0 })
  clickCount!: number;

  @Column({ name: 'first_clicked_at', type: 'timestamptz', nullable: true })
  firstClickedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
