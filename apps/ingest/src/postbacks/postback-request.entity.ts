import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export type PostbackOutcome = 'stored' | 'duplicate' | 'adjusted' | 'reversed' | 'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'error';

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

  /** Machine-readable reason (BAD_TOKEN, INVALID_FIELDS, QUERY_TOO_LONG, ...), for counters and replay selection. */
  @Column({ name: 'reason_code', type: 'text', nullable: true })
  reasonCode!: string | null;

  /** Set on the record of a replay: the archived request it re-processed. */
  @Column({ name: 'replay_of', type: 'bigint', nullable: true })
  replayOf!: string | null;

  @Column({ name: 'conversion_ref', type: 'uuid', nullable: true })
  conversionRef!: string | null;
}
