import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { withoutNul } from '../domain/postback-params';
import { fromEpochMs, jsonParam } from '@trackly/database';
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

/** An archived request as other rows and statements name it: its id and its receive time (the table's partition key). */
export interface ArchiveRef {
  id: string;
  receivedAt: Date;
}

/** What became of an archived request. */
export interface ArchiveOutcome {
  outcome: PostbackOutcome;
  reason?: string;
  reasonCode?: string;
  conversionRef?: string;
}

/** Archive ids taken from the sequence per round trip: one statement per this many requests. */
const ID_BLOCK = 500;

/**
 * The raw record of every partner request, so a bad mapping can be found and replayed later. A request is archived
 * in the same transaction as what it did (its conversion, its event, its refusal), with its outcome; never after
 * its answer (the edge answers once that transaction committed).
 *
 * Statements name a row by id AND received_at, and none relies on a unique index on id alone, so they stay correct
 * on a table partitioned by receive time (primary key (id, received_at)).
 */
@Injectable()
export class PostbackArchive {
  private ids: string[] = [];
  private next = 0;
  private refill?: Promise<void>;

  constructor(private readonly ds: DataSource) {}

  /**
   * An id for a request about to be archived. Ids come from the table's own sequence a block at a time, so a batch's
   * rows, and the events that name them (PostbackRefused, an adjustment's request), know their ids before the batch's
   * one statement runs; ids unused when the process stops are a gap, as a rolled-back insert leaves one.
   */
  async nextId(): Promise<string> {
    return this.takeId() ?? this.nextIdAfterRefill();
  }

  /** An id of the block in hand, without a promise; undefined when the block is used up (then nextId()). */
  takeId(): string | undefined {
    return this.next < this.ids.length ? this.ids[this.next++] : undefined;
  }

  private async nextIdAfterRefill(): Promise<string> {
    while (this.next >= this.ids.length) {
      this.refill ??= this.fetchIds().finally(() => (this.refill = undefined));
      await this.refill;
    }
    return this.ids[this.next++];
  }

  private async fetchIds(): Promise<void> {
    const rows: { id: string }[] = await this.ds.query(
      `SELECT nextval(pg_get_serial_sequence('"ingest".postback_requests', 'id'))::text AS id FROM generate_series(1, $1)`,
      [ID_BLOCK],
    );
    // NULL when the id column has no sequence of its own (a table rebuilt without `ALTER SEQUENCE … OWNED BY`).
    if (rows.some((r) => r.id === null)) throw new Error('"ingest".postback_requests.id has no owned sequence to draw archive ids from');
    this.ids = rows.map((r) => r.id);
    this.next = 0;
  }

  /** One request with its outcome if known (NULL: still being handled, finished by finish() in the same transaction). */
  async insert(m: Pick<EntityManager, 'query'>, id: string, r: ArchivedRequest, outcome?: ArchiveOutcome): Promise<void> {
    await m.query(
      `INSERT INTO "ingest".postback_requests (id, received_at, partner_id, source_ip, method, path, query, content_type, body, outcome, reason, reason_code, conversion_ref)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [id, r.receivedAt, ...storable(r), outcome?.outcome ?? null, reasonOf(outcome), outcome?.reasonCode ?? null, outcome?.conversionRef ?? null],
    );
  }

  async finish(ref: ArchiveRef, outcome: ArchiveOutcome, m: Pick<EntityManager, 'query'> = this.ds.manager): Promise<void> {
    await m.query(
      `UPDATE "ingest".postback_requests SET outcome = $3, reason = $4, reason_code = $5, conversion_ref = $6 WHERE id = $1 AND received_at = $2`,
      [ref.id, ref.receivedAt, outcome.outcome, reasonOf(outcome), outcome.reasonCode ?? null, outcome.conversionRef ?? null],
    );
  }

  /**
   * Many requests with their outcomes in one statement, on the raw connection of the caller's transaction (group
   * commit: a batch's repeats, archived once their outcome is known). An INSERT, not an UPDATE of rows written
   * earlier in the transaction: an UPDATE of the partitioned archive opened every partition and re-indexed each row
   * (as much Postgres time as the rest of the batch).
   */
  async insertMany(query: (name: string, text: string, values: unknown[]) => Promise<unknown>, rows: { id: string; request: ArchivedRequest; outcome: ArchiveOutcome }[]): Promise<void> {
    if (!rows.length) return;
    await query(
      'ingest-archive-postbacks.v2',
      `INSERT INTO "ingest".postback_requests ${ARCHIVE_COLUMNS}
       SELECT ${ARCHIVE_REQUEST_VALUES}, a.outcome, a.reason, a.reason_code, a.conversion_ref
       FROM ${archiveRecordset('$1')} ORDER BY a.ord`,
      [archiveRecords(rows)],
    );
  }

  /** The outcomes of many requests in one statement, on the raw connection of the caller's transaction. */
  async finishMany(query: (name: string, text: string, values: unknown[]) => Promise<unknown>, outcomes: (ArchiveRef & ArchiveOutcome)[]): Promise<void> {
    if (!outcomes.length) return;
    await query(
      'ingest-finish-postbacks',
      `UPDATE "ingest".postback_requests AS r
       SET outcome = v.outcome, reason = v.reason, reason_code = v.reason_code, conversion_ref = v.conversion_ref
       FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::uuid[]) AS v(id, received_at, outcome, reason, reason_code, conversion_ref)
       WHERE r.id = v.id AND r.received_at = v.received_at`,
      [
        outcomes.map((o) => o.id),
        outcomes.map((o) => o.receivedAt),
        outcomes.map((o) => o.outcome),
        outcomes.map(reasonOf),
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
  async recordReplay(m: EntityManager, original: ArchiveRef, at: Date): Promise<ArchiveRef> {
    // An id of the same stream as the edge's, so ids keep this process's order of arrival.
    const id = await this.nextId();
    await m.query(
      `INSERT INTO "ingest".postback_requests (id, received_at, partner_id, source_ip, method, path, query, content_type, body, replay_of)
       SELECT $4, $3, partner_id, source_ip, method, path, query, content_type, body, id
       FROM "ingest".postback_requests WHERE id = $1 AND received_at = $2`,
      [original.id, original.receivedAt, at, id],
    );
    return { id, receivedAt: at };
  }
}

/** The archive's columns, as the statements that insert rows name them (insertMany, the intake's batch statements). */
export const ARCHIVE_COLUMNS = `(id, received_at, partner_id, source_ip, method, path, query, content_type, body,
           outcome, reason, reason_code, conversion_ref)`;

/** The request's columns of an archiveRecordset row (`a`), in ARCHIVE_COLUMNS' order: what each insert of its rows selects first. */
export const ARCHIVE_REQUEST_VALUES = `a.id, ${fromEpochMs('a.received_ms')}, a.partner_id, a.source_ip, a.method, a.path, a.query, a.content_type, a.body`;

/**
 * Archive rows as one JSON parameter (jsonParam), for `archiveRecordset`: each request's `storable` columns, and its
 * outcome as far as known (the intake's statement decides a stored or repeated request's outcome itself; its
 * `conversionRef` is then the id drawn for the request's conversion, which the statement resolves).
 */
export function archiveRecords(rows: readonly { id: string; request: ArchivedRequest; outcome?: Partial<ArchiveOutcome> }[]): string {
  return jsonParam(
    rows.map(({ id, request, outcome }, ord) => {
      const [partner_id, source_ip, method, path, query, content_type, body] = storable(request);
      return {
        id,
        received_ms: request.receivedAt.getTime(),
        partner_id,
        source_ip,
        method,
        path,
        query,
        content_type,
        body,
        outcome: outcome?.outcome ?? null,
        reason: reasonOf(outcome),
        reason_code: outcome?.reasonCode ?? null,
        conversion_ref: outcome?.conversionRef ?? null,
        ord,
      };
    }),
  );
}

/** The rows of an archiveRecords parameter (`param`, e.g. '$2') as `a`, in a statement's FROM; `a.ord` is their order. */
export function archiveRecordset(param: string): string {
  return `json_to_recordset(${param}::json) AS a(id bigint, received_ms bigint, partner_id text, source_ip text, method text, path text,
           query text, content_type text, body text, outcome text, reason text, reason_code text, conversion_ref uuid, ord int)`;
}

/** The request's columns after received_at, as stored: no NUL (text columns refuse it), the partner id cut short. */
export function storable(r: ArchivedRequest): (string | null)[] {
  return [
    withoutNul(r.partnerId.slice(0, MAX_ARCHIVED_PARTNER_ID)),
    withoutNul(r.sourceIp),
    withoutNul(r.method),
    withoutNul(r.path),
    withoutNul(r.query),
    r.contentType === null ? null : withoutNul(r.contentType),
    r.body === null ? null : withoutNul(r.body),
  ];
}

function reasonOf(o: { reason?: string } | undefined): string | null {
  return o?.reason === undefined ? null : withoutNul(o.reason);
}
