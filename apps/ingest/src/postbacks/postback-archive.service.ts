import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { withoutNul } from '../domain/postback-params';
import type { ArchiveGroup } from '../domain/partner-counters';
import { PostbackOutcome, PostbackRequestEntity } from './postback-request.entity';

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

  /**
   * Several requests in one INSERT (group commit), ids in input order: the ids are drawn from the sequence in the
   * input CTE, which is materialised once, so each row keeps the id it was given.
   */
  async recordMany(rs: ArchivedRequest[]): Promise<string[]> {
    const col = <V>(f: (r: ArchivedRequest) => V) => rs.map(f);
    const rows: { id: string }[] = await this.ds.query(
      `WITH input AS (
         SELECT nextval(pg_get_serial_sequence('"ingest".postback_requests', 'id')) AS id, t.*
         FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
           WITH ORDINALITY AS t(received_at, partner_id, source_ip, method, path, query, content_type, body, ord)
       ), ins AS (
         INSERT INTO "ingest".postback_requests (id, received_at, partner_id, source_ip, method, path, query, content_type, body)
         SELECT id, received_at, partner_id, source_ip, method, path, query, content_type, body FROM input
       )
       SELECT id FROM input ORDER BY ord`,
      [
        col((r) => r.receivedAt.toISOString()),
        col((r) => withoutNul(r.partnerId.slice(0, MAX_ARCHIVED_PARTNER_ID))),
        col((r) => withoutNul(r.sourceIp)),
        col((r) => withoutNul(r.method)),
        col((r) => withoutNul(r.path)),
        col((r) => withoutNul(r.query)),
        col((r) => (r.contentType === null ? null : withoutNul(r.contentType))),
        col((r) => (r.body === null ? null : withoutNul(r.body))),
      ],
    );
    if (rows.length !== rs.length) throw new Error(`archived ${rows.length} of ${rs.length} requests`);
    return rows.map((r) => String(r.id));
  }

  async finish(
    id: string,
    outcome: { outcome: PostbackOutcome; reason?: string; reasonCode?: string; conversionRef?: string },
    m: EntityManager = this.ds.manager,
  ): Promise<void> {
    await m.query(`UPDATE "ingest".postback_requests SET outcome = $2, reason = $3, reason_code = $4, conversion_ref = $5 WHERE id = $1`, [
      id,
      outcome.outcome,
      outcome.reason === undefined ? null : withoutNul(outcome.reason),
      outcome.reasonCode ?? null,
      outcome.conversionRef ?? null,
    ]);
  }

  /** The outcomes of many requests in one statement, on the raw connection of the caller's transaction (group commit). */
  async finishMany(
    query: (name: string, text: string, values: unknown[]) => Promise<unknown>,
    outcomes: { id: string; outcome: PostbackOutcome; reason?: string; reasonCode?: string; conversionRef?: string }[],
  ): Promise<void> {
    if (!outcomes.length) return;
    await query(
      'ingest-finish-postbacks',
      `UPDATE "ingest".postback_requests AS r
       SET outcome = v.outcome, reason = v.reason, reason_code = v.reason_code, conversion_ref = v.conversion_ref
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::uuid[]) AS v(id, outcome, reason, reason_code, conversion_ref)
       WHERE r.id = v.id`,
      [
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.outcome),
        outcomes.map((o) => (o.reason === undefined ? null : withoutNul(o.reason))),
        outcomes.map((o) => o.reasonCode ?? null),
        outcomes.map((o) => o.conversionRef ?? null),
      ],
    );
  }

  /** The archive grouped by partner, outcome and reason code (the source of per-partner counters). */
  async groups(partnerId: string | null, since: Date | null): Promise<ArchiveGroup[]> {
    const rows: { partner_id: string; outcome: string | null; reason_code: string | null; n: string }[] = await this.ds.query(
      `SELECT partner_id, outcome, reason_code, count(*)::text AS n FROM "ingest".postback_requests
       WHERE ($1::text IS NULL OR partner_id = $1) AND ($2::timestamptz IS NULL OR received_at >= $2) AND replay_of IS NULL
       GROUP BY partner_id, outcome, reason_code`,
      [partnerId, since],
    );
    return rows.map((r) => ({ partnerId: r.partner_id, outcome: r.outcome, reasonCode: r.reason_code, count: BigInt(r.n) }));
  }

  /** Archived partner requests (not replays themselves) to replay, oldest first; one more than `limit` tells of more. */
  selectForReplay(m: EntityManager, q: { partnerId: string; from: Date; to: Date; outcomes: readonly string[]; limit: number }): Promise<PostbackRequestEntity[]> {
    return m
      .getRepository(PostbackRequestEntity)
      .createQueryBuilder('r')
      .where('r.partner_id = :partnerId AND r.received_at >= :from AND r.received_at < :to AND r.replay_of IS NULL', q)
      .andWhere('r.outcome IN (:...outcomes)', { outcomes: q.outcomes })
      .orderBy('r.received_at', 'ASC')
      .addOrderBy('r.id', 'ASC')
      .limit(q.limit + 1)
      .getMany();
  }

  /** The record of one replay: a copy of the original request pointing at it; its outcome is filled in by finish(). */
  async recordReplay(m: EntityManager, originalId: string, at: Date): Promise<string> {
    const [row]: { id: string }[] = await m.query(
      `INSERT INTO "ingest".postback_requests (received_at, partner_id, source_ip, method, path, query, content_type, body, replay_of)
       SELECT $2, partner_id, source_ip, method, path, query, content_type, body, id
       FROM "ingest".postback_requests WHERE id = $1 RETURNING id`,
      [originalId, at],
    );
    return row.id;
  }
}
