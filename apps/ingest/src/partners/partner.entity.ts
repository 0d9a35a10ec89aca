import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A registered partner. The token itself is never stored: only its SHA-256. */
@Entity({ name: 'partners' })
export class PartnerEntity {
  @PrimaryColumn({ name: 'partner_id', type: 'text' })
  partnerId!: string;

  @Column({ type: 'text' })
  name!: string;

  /** TUNE | EVERFLOW | GENERIC */
  @Column({ type: 'text' })
  kind!: 'TUNE' | 'EVERFLOW' | 'GENERIC';

  /** NULL = the kind's default. */
  @Column({ name: 'click_id_param', type: 'text', nullable: true })
  clickIdParam!: string | null;

  @Column({ name: 'default_currency', type: 'char', length: 3 })
  defaultCurrency!: string;

  @Column({ name: 'allowed_sources', type: 'text', array: true, default: () => "'{}'" })
  allowedSources!: string[];

  @Column({ name: 'token_sha256', type: 'bytea' })
  tokenSha256!: Buffer;

  @Column({ name: 'token_issued_at', type: 'timestamptz' })
  tokenIssuedAt!: Date;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  /** IANA zone of the partner's account; NULL = UTC. */
  @Column({ name: 'time_zone', type: 'text', nullable: true })
  timeZone!: string | null;

  /** When the last test postback reached the edge. */
  @Column({ name: 'last_test_at', type: 'timestamptz', nullable: true })
  lastTestAt!: Date | null;

  /** What it became (stored, duplicate, or the edge's refusal). */
  @Column({ name: 'last_test_outcome', type: 'text', nullable: true })
  lastTestOutcome!: string | null;
}
