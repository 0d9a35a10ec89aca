import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import { bigintTransformer } from '@trackly/database';

@Entity({ name: 'offers' })
export class OfferEntity {
  @PrimaryColumn({ name: 'offer_id', type: 'text' })
  offerId!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ name: 'destination_url_template', type: 'text' })
  destinationUrlTemplate!: string;

  @Column({ name: 'default_payout_micros', type: 'bigint', transformer: bigintTransformer })
  defaultPayoutMicros!: bigint;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ name: 'click_window_days', type: 'int', nullable: true })
  clickWindowDays!: number | null;

  @Column({ name: 'min_conversion_seconds', type: 'int', nullable: true })
  minConversionSeconds!: number | null;

  @Column({ name: 'view_through_window_days', type: 'int', nullable: true })
  viewThroughWindowDays!: number | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'creatives' })
export class CreativeEntity {
  @PrimaryColumn({ name: 'creative_id', type: 'text' })
  creativeId!: string;

  @Column({ type: 'text' })
  name!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}

@Entity({ name: 'campaigns' })
export class CampaignEntity {
  @PrimaryColumn({ name: 'campaign_id', type: 'text' })
  campaignId!: string;

  @Column({ type: 'text' })
  name!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
