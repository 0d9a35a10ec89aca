import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { withoutNul } from '../domain/postback-params';
import type { PostbackOutcome } from './postback-request.entity';

export interface ArchivedRequest {
  receivedAt: Date;
  partnerId: string;
  sourceIp: string;
  method: string;
  path: string;
  query: string;
  contentType: string | null;
  body: string | null;
}

/** Longest partner id kept from a path that failed validation: enough to recognise it, not a storage sink. */
const MAX_ARCHIVED_PARTNER_ID = 256;

/**
 * The raw record of every partner request, written in its own transaction before anything is parsed, so a bad
 * mapping can be found and replayed later; its outcome is filled in once known.
 */
@Injectable()
export class PostbackArchive {
  constructor(private readonly ds: DataSource) {}

  async record(r: ArchivedRequest): Promise<string> {
    const [row]: { id: string }[] = await this.ds.query(
      `INSERT INTO "ingest".postback_requests (received_at, partner_id, source_ip, method, path, query, content_type, body)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      [
        r.receivedAt,
        withoutNul(r.partnerId.slice(0, MAX_ARCHIVED_PARTNER_ID)),
        withoutNul(r.sourceIp),
        withoutNul(r.method),
        withoutNul(r.path),
        withoutNul(r.query),
        r.contentType === null ? null : withoutNul(r.contentType),
        r.body === null ? null : withoutNul(r.body),
      ],
    );
    return row.id;
  }

  async finish(
    id: string,
    outcome: { outcome: PostbackOutcome; reason?: string; conversionRef?: string },
    m: EntityManager = this.ds.manager,
  ): Promise<void> {
    await m.query(`UPDATE "ingest".postback_requests SET outcome = $2, reason = $3, conversion_ref = $4 WHERE id = $1`, [
      id,
      outcome.outcome,
      outcome.reason === undefined ? null : withoutNul(outcome.reason),
      outcome.conversionRef ?? null,
    ]);
  }
}
