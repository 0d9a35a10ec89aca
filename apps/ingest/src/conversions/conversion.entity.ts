import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';
import { bigintTransformer } from '@trackly/database';
import type { RawParams } from '../domain/conversion.rules';

@Entity({ name: 'conversions' })
@Unique('UQ_conversions_partner_conversion', ['partnerId', 'conversionId'])
export class ConversionEntity {
  @PrimaryColumn({ type: 'uuid', default: () => 'gen_random_uuid()' })
  id!: string;

  @Column({ name: 'partner_id', type: 'text' })
  partnerId!: string;

  @Column({ name: 'conversion_id', type: 'text' })
  conversionId!: string;

  @Column({ name: 'click_id', type: 'text', nullable: true })
  clickId!: string | null;

  /** Our message id as passed back by the partner (view-through without a click). */
  @Column({ name: 'message_id', type: 'text', nullable: true })
  messageId!: string | null;

  @Column({ name: 'payout_micros', type: 'bigint', transformer: bigintTransformer })
  payoutMicros!: bigint;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  /** APPROVED | PENDING | REJECTED | REVERSED */
  @Column({ type: 'text' })
  status!: string;

  /** The postback carried no payout (stored as 0): attribution applies the offer's default payout. */
  @Column({ name: 'payout_absent', type: 'boolean', default: false })
  payoutAbsent!: boolean;

  /** A test conversion: stored and explained, never counted as revenue unless a report asks for tests. */
  @Column({ type: 'boolean', default: false })
  test!: boolean;

  @Column({ name: 'occurred_at', type: 'timestamptz' })
  occurredAt!: Date;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  /** PENDING | ATTRIBUTED | UNATTRIBUTED: attribution's verdict as last heard. */
  @Column({ name: 'attribution_state', type: 'text', default: 'PENDING' })
  attributionState!: string;

  @Column({ name: 'attribution_reason', type: 'text', nullable: true })
  attributionReason!: string | null;

  @Column({ name: 'credited_message_id', type: 'text', nullable: true })
  creditedMessageId!: string | null;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  raw!: RawParams;

  @Column({ name: 'transaction_id', type: 'text', nullable: true })
  transactionId!: string | null;

  /** Everflow event / TUNE goal; NULL for the base conversion. */
  @Column({ name: 'event_id', type: 'text', nullable: true })
  eventId!: string | null;

  /** Order value as reported, in the payout's currency. */
  @Column({ name: 'sale_amount_micros', type: 'bigint', nullable: true, transformer: bigintTransformer })
  saleAmountMicros!: bigint | null;

  @Column({ name: 'sub_ids', type: 'jsonb', default: () => "'{}'::jsonb" })
  subIds!: RawParams;

  /** Last adjustment (status or payout change, reversal); NULL while unchanged. */
  @Column({ name: 'updated_at', type: 'timestamptz', nullable: true })
  updatedAt!: Date | null;
}
