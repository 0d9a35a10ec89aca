import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintTransformer } from '@trackly/database';

/** A conversion whose click is not known yet, waiting (pending) until it arrives or the horizon passes. */
@Entity({ name: 'parked_conversions' })
export class ParkedConversionEntity {
  @PrimaryColumn({ name: 'partner_id', type: 'text' }) partnerId!: string;
  @PrimaryColumn({ name: 'conversion_id', type: 'text' }) conversionId!: string;
  @Column({ name: 'conversion_ref', type: 'text' }) conversionRef!: string;
  @Column({ name: 'click_id', type: 'text' }) clickId!: string;
  @Column({ name: 'message_id', type: 'text' }) messageId!: string;
  @Column({ name: 'payout_micros', type: 'bigint', transformer: bigintTransformer }) payoutMicros!: bigint;
  @Column({ type: 'char', length: 3 }) currency!: string;
  @Column({ type: 'text' }) status!: string;
  @Column({ name: 'occurred_at', type: 'timestamptz' }) occurredAt!: Date;
  @Column({ name: 'parked_at', type: 'timestamptz' }) parkedAt!: Date;
  @Column({ type: 'int' }) attempts!: number;
  @Column({ name: 'next_attempt_at', type: 'timestamptz' }) nextAttemptAt!: Date;
  @Column({ name: 'horizon_at', type: 'timestamptz' }) horizonAt!: Date;
  @Column({ name: 'last_error', type: 'text', nullable: true }) lastError!: string | null;
  @Column({ type: 'boolean', default: false }) test!: boolean;
  @Column({ type: 'text', nullable: true }) source!: string | null;
  /** The postback had no payout (the offer's default applies when it is decided). */
  @Column({ name: 'payout_absent', type: 'boolean', default: false }) payoutAbsent!: boolean;
}
