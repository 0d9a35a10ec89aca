import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type PostbackOutcome = 'stored' | 'duplicate' | 'invalid' | 'error';

/** One partner HTTP request exactly as received, and what became of it (NULL outcome: still being handled). */
@Entity({ name: 'postback_requests' })
export class PostbackRequestEntity {
  /** bigserial: pg returns int8 as a string. */
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  /** As it appeared in the path, valid or not. */
  @Column({ name: 'partner_id', type: 'text' })
  partnerId!: string;

  @Column({ name: 'source_ip', type: 'text' })
  sourceIp!: string;

  @Column({ type: 'text' })
  method!: string;

  @Column({ type: 'text' })
  path!: string;

  /** The raw query string, still percent-encoded, without the "?". */
  @Column({ type: 'text' })
  query!: string;

  @Column({ name: 'content_type', type: 'text', nullable: true })
  contentType!: string | null;

  @Column({ type: 'text', nullable: true })
  body!: string | null;

  @Column({ type: 'text', nullable: true })
  outcome!: PostbackOutcome | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'conversion_ref', type: 'uuid', nullable: true })
  conversionRef!: string | null;
}
