import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '@trackly/database';

/**
 * One decision per conversion (the primary key). Adjustments change status and payout in place, but each change is
 * logged in corrections and published as AttributionCorrected (previous and current): never silently.
 */
@Entity({ name: 'decisions' })
export class DecisionEntity {
  @PrimaryColumn({ name: 'partner_id', type: 'text' }) partnerId!: string;
  @PrimaryColumn({ name: 'conversion_id', type: 'text' }) conversionId!: string;
  @Column({ name: 'conversion_ref', type: 'text' }) conversionRef!: string;
  @Column({ type: 'text' }) outcome!: 'ATTRIBUTED' | 'UNATTRIBUTED';
  @Column({ type: 'text', nullable: true }) reason!: string | null;
  @Column({ type: 'text', nullable: true }) type!: string | null;
  @Column({ name: 'reported_click_id', type: 'text' }) reportedClickId!: string;
  @Column({ name: 'credited_click_id', type: 'text', nullable: true }) creditedClickId!: string | null;
  @Column({ name: 'message_id', type: 'text', nullable: true }) messageId!: string | null;
  @Column({ name: 'contact_id', type: 'text', nullable: true }) contactId!: string | null;
  @Column({ name: 'offer_id', type: 'text', nullable: true }) offerId!: string | null;
  @Column({ name: 'campaign_id', type: 'text', nullable: true }) campaignId!: string | null;
  @Column({ name: 'creative_id', type: 'text', nullable: true }) creativeId!: string | null;
  @Column({ name: 'payout_micros', type: 'bigint', transformer: bigintTransformer }) payoutMicros!: bigint;
  @Column({ type: 'char', length: 3 }) currency!: string;
  @Column({ type: 'text' }) status!: string;
  @Column({ name: 'occurred_at', type: 'timestamptz' }) occurredAt!: Date;
  @Column({ name: 'credited_clicked_at', type: 'timestamptz', nullable: true }) creditedClickedAt!: Date | null;
  @Column({ name: 'window_days', type: 'int' }) windowDays!: number;
  @Column({ name: 'decided_at', type: 'timestamptz' }) decidedAt!: Date;
  @Column({ type: 'text' }) explanation!: string;
  @Column({ name: 'rule_version', type: 'text' }) ruleVersion!: string;
  @Column({ type: 'text', nullable: true }) rule!: string | null;
  @Column({ name: 'window_source', type: 'text', nullable: true }) windowSource!: string | null;
  /** The message id the conversion itself carried (view-through reference); '' when none. */
  @Column({ name: 'conversion_message_id', type: 'text' }) conversionMessageId!: string;
  @Column({ type: 'text', nullable: true }) fingerprint!: string | null;
  @Column({ type: 'int' }) revision!: number;
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: true }) updatedAt!: Date | null;
  /** A partner's test conversion: decided and explained like any other, kept out of revenue by the read models. */
  @Column({ type: 'boolean', default: false }) test!: boolean;
  /** INGEST or DIRECT (the AttributeConversion RPC); null on decisions made before it was recorded (ingest's). */
  @Column({ type: 'text', nullable: true }) source!: string | null;
  /** The postback had no payout: the offer's default payout was applied. */
  @Column({ name: 'payout_defaulted', type: 'boolean', default: false }) payoutDefaulted!: boolean;
  /** Credited over one of the offer's caps (action HOLD): pending until an operator decides. */
  @Column({ name: 'over_cap', type: 'boolean', default: false }) overCap!: boolean;
  /** Held by the offer's hold period until then (status PENDING); the hold sweeper approves it when due. */
  @Column({ name: 'hold_until', type: 'timestamptz', nullable: true }) holdUntil!: Date | null;
}
