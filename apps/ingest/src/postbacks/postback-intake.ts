import { BeforeApplicationShutdown, Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Pool, type PoolClient, type PoolConfig } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { isDatabaseUnavailable, jsonParam, rawPool } from '@trackly/database';
import type { Logger } from '@trackly/logging';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import { Batcher } from '@trackly/platform';
import { BatchDraft, CONVERSION_BATCH_CTES, ConversionBatch, ConversionsService, RawQuery, StoreResult } from '../conversions/conversions.service';
import { ConversionEventsRelay } from '../conversions/conversion-events';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG, INGEST_LOGGER } from '../ingest.tokens';
import { DUPLICATE_REASONS } from '../domain/conversion-adjustment';
import { statusName } from '../domain/conversion.rules';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { PartnersService } from '../partners/partners.service';
import { ARCHIVE_COLUMNS, ARCHIVE_REQUEST_VALUES, archiveRecords, archiveRecordset, ArchivedRequest, ArchiveOutcome, PostbackArchive } from './postback-archive.service';

/** A refusal as the archive records it, with the PostbackRefused event it announces. */
export interface IntakeRefusal extends ArchiveOutcome {
  /** Partner id as sent (cut short for the event). */
  partnerId: string;
  headers: Record<string, string>;
}

/**
 * One partner request for the batch: its raw archive row (its id drawn already), and either the conversion it
 * carries (the outcome decided by the batch) or the refusal decided before the batch.
 */
export type IntakeUnit = { id: string; request: ArchivedRequest } & (
  | { store: BatchDraft; testOf?: string; refusal?: undefined }
  | { refusal: IntakeRefusal; store?: undefined; testOf?: undefined }
);

/** A stored, duplicate or adjusted conversion; null for a refusal. */
export type IntakeResult = StoreResult | null;

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function valueOf<T>(settled: Settled<T>): T {
  if (!settled.ok) throw settled.error;
  return settled.value;
}

function first<T>(all: T[]): T {
  return all[0];
}

/**
 * The postback edge's group commit end to end: the raw archive row with its outcome, the conversion (with its
 * ConversionReceived: the row is the event's source, see ConversionEventsRelay) and the refusals with their
 * PostbackRefused, for every request of a batch, in ONE transaction: BEGIN, one statement (conversions, repeats
 * decided as duplicates, archive rows, events) and COMMIT sent together, when every repeat is a plain duplicate
 * (writeWithoutLocks); otherwise BEGIN, the statement, one SELECT … FOR UPDATE of the repeats' keys, their
 * adjustments, one INSERT of their archive rows, COMMIT (writeLocked). Nothing is answered before the commit, so a
 * request answered is archived with its outcome, and one whose process died first was never answered.
 *
 * A batch that fails as a whole (not a lost database: a row we could not store, a deadlock) is rolled back and each of
 * its requests written on its own; a request that still fails is archived alone with outcome `error`, then answered 5xx.
 */
@Injectable()
export class PostbackIntake implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly batcher?: Batcher<IntakeUnit, Settled<IntakeResult>>;
  /** Batches written by each path (logged on shutdown with the batch sizes). */
  private readonly paths = { withoutLocks: 0, locked: 0 };
  /** Connections in pipeline mode, for writeWithoutLocks: statements are sent without waiting for the one before. */
  private readonly pipelined: Pool;
  /**
   * Its connections between batches, kept checked out: the pool hands one back through process.nextTick, after the
   * microtasks, which are the finished batch's answers, so the next batch's statement waited for every answer to be
   * written (1.5 ms per batch of 30, measured). Kept, the next batch goes to Postgres before the answers go out.
   */
  private readonly kept: PoolClient[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly archive: PostbackArchive,
    private readonly conversions: ConversionsService,
    private readonly partners: PartnersService,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly events: ConversionEventsRelay,
    @Inject(INGEST_CONFIG) config: IngestConfig,
    @Inject(INGEST_LOGGER) private readonly logger: Logger,
  ) {
    // The settings of the app's pool (URL, application name, connect timeout); as many connections as batches in flight.
    const settings = (rawPool(ds) as Pool & { options: PoolConfig }).options;
    this.pipelined = new Pool({
      ...settings,
      max: config.INGEST_GROUP_COMMIT ? config.INGEST_GROUP_COMMIT_IN_FLIGHT : (settings.max ?? 10),
      application_name: `${settings.application_name ?? 'trackly-ingest'}-intake`,
      pipeline: true,
    });
    // An idle connection that broke (the server restarted): the pool drops it; without a listener it would end the process.
    this.pipelined.on('error', (err) => this.logger.warn({ err: err.message }, 'intake connection lost while idle'));
    // A kept connection is checked out, so the pool does not listen to it: one that breaks while kept is dropped here
    // (a client's error without a listener would end the process). In use, its statement fails too and
    // writeWithoutLocks closes it; idle in the pool, the pool's listener above takes it.
    this.pipelined.on('connect', (c) =>
      c.on('error', (err) => {
        const at = this.kept.indexOf(c);
        if (at < 0) return;
        this.kept.splice(at, 1);
        c.release(err);
        this.logger.warn({ err: err.message }, 'intake connection lost while kept');
      }),
    );
    if (config.INGEST_GROUP_COMMIT) {
      this.batcher = new Batcher((units) => this.flush(units), {
        windowMs: config.INGEST_GROUP_COMMIT_WINDOW_MS,
        maxBatch: config.INGEST_GROUP_COMMIT_MAX_BATCH,
        maxInFlight: config.INGEST_GROUP_COMMIT_IN_FLIGHT,
      });
    }
  }

  /** Requests already queued are committed (and answered), then their events published, before NATS and the database close. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.batcher?.drain();
    // Postbacks per batch is what the batch's statements are shared by (a bench's run reads it here).
    if (this.batcher) this.logger.info({ ...this.batcher.stats, ...this.paths }, 'postback intake: batches written');
    await this.events.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.kept.splice(0)) c.release();
    await this.pipelined.end().catch(() => undefined);
  }

  /** Resolves once the unit's transaction committed; with group commit off, the unit is a transaction of its own. */
  submit(unit: IntakeUnit): Promise<IntakeResult> {
    return this.submitSettled(unit).then(valueOf);
  }

  /** submit() with the outcome as a value (one promise less per postback for the edge, which reads it at once). */
  submitSettled(unit: IntakeUnit): Promise<Settled<IntakeResult>> {
    return this.batcher ? this.batcher.submit(unit) : this.flush([unit]).then(first);
  }

  /** A request archived alone with outcome `error` (what failed is ours): best effort, the caller answers 5xx anyway. */
  async archiveError(id: string, request: ArchivedRequest, e: unknown): Promise<void> {
    const reason = e instanceof Error ? e.message : String(e);
    await this.archive.insert(this.ds.manager, id, request, { outcome: 'error', reason, reasonCode: 'STORE_FAILED' }).catch((err: Error) => {
      this.logger.error({ err: err.message, archiveId: id }, 'could not archive a failed postback');
    });
  }

  private async flush(units: IntakeUnit[]): Promise<Settled<IntakeResult>[]> {
    try {
      const values = await this.write(units);
      return values.map((value) => ({ ok: true, value }));
    } catch (error) {
      // Without a database every request gets the same answer (503); one by one would only repeat the failure.
      if (units.length === 1 || isDatabaseUnavailable(error)) return units.map(() => ({ ok: false, error }));
      this.logger.warn({ err: error instanceof Error ? error.message : String(error), postbacks: units.length }, 'batch of postbacks failed; writing them one by one');
    }
    return Promise.all(
      units.map((u) =>
        this.write([u]).then(
          ([value]): Settled<IntakeResult> => ({ ok: true, value }),
          (error): Settled<IntakeResult> => ({ ok: false, error }),
        ),
      ),
    );
  }

  /** One transaction for the batch, on the raw pg connection (named statements: prepared once per connection). */
  private async write(units: IntakeUnit[]): Promise<IntakeResult[]> {
    const stores: BatchDraft[] = [];
    const storeAt: number[] = [];
    const refusals: IntakeUnit[] = [];
    units.forEach((u, i) => {
      if (u.store) {
        stores.push(u.store);
        storeAt.push(i);
      } else refusals.push(u);
    });
    const batch = this.conversions.batchRows(stores);
    const conversionOf = new Array<string | null>(units.length).fill(null);
    storeAt.forEach((i, k) => (conversionOf[i] = batch.ids[k]));
    const refused = this.outbox.encodeRows(
      Events.PostbackRefused,
      refusals.map((u) => ({
        requestId: u.id,
        partnerId: u.refusal!.partnerId.slice(0, 256),
        outcome: u.refusal!.outcome,
        reasonCode: u.refusal!.reasonCode ?? '',
        reason: u.refusal!.reason ?? '',
        receivedAt: u.request.receivedAt,
      })),
      refusals.map((u) => u.refusal!.headers),
    );
    // Three JSON documents (jsonParam): the conversions, the archive rows, the refusals' events.
    const values = [
      batch.rows,
      archiveRecords(units.map((u, i) => ({ id: u.id, request: u.request, outcome: { ...u.refusal, conversionRef: conversionOf[i] ?? undefined } }))),
      jsonParam(refused.ids.map((id, ord) => ({ id, payload: refused.bodies[ord].toString('base64'), headers: refused.headers[ord], ord }))),
      refused.subject,
    ];

    // A test postback's record is written through the partners' entity manager: the locked path.
    const quick = units.some((u) => u.testOf) ? undefined : await this.writeWithoutLocks(values, stores, storeAt, units.length, batch);
    if (quick) {
      this.paths.withoutLocks++;
      if (quick.stored) this.events.kick();
      if (refusals.length) this.relay.kick();
      return quick.out;
    }
    this.paths.locked++;
    return this.writeLocked(values, units, stores, storeAt, batch, refusals.length > 0);
  }

  /**
   * The batch in one transaction and ONE round trip, when its repeats need no lock: BEGIN, the lockless statement
   * (INTAKE_LOCKLESS_SQL: the rows, and each repeat decided and archived as a duplicate) and COMMIT, sent together on
   * a pipelined connection. A repeat that needs a lock (an adjustment, or a stored row the statement's snapshot did not
   * hold) makes the statement fail with SQLSTATE TK001, so the COMMIT rolls back; then undefined is returned, for
   * writeLocked. Each round trip costs the batch a turn of the event loop, which serves the other requests meanwhile:
   * at 64 connections the five of the locked path (BEGIN, statement, lock of the repeats, their archive rows, COMMIT)
   * bounded postbacks per second.
   */
  private async writeWithoutLocks(values: unknown[], stores: BatchDraft[], storeAt: number[], units: number, batch: ConversionBatch): Promise<{ out: IntakeResult[]; stored: number } | undefined> {
    // Synchronously when one is kept: the statement is written before the previous batch's answers.
    const c = this.kept.pop() ?? (await this.pipelined.connect());
    // A connection that failed mid-transaction is closed, not returned: the server rolls back what it held.
    let broken: Error | undefined;
    try {
      const [b, r, k] = await Promise.allSettled([
        c.query('BEGIN'),
        c.query({ name: 'ingest-intake-lockless', text: INTAKE_LOCKLESS_SQL, values: [...values, DUPLICATE_REASONS.same, DUPLICATE_REASONS.reversed, REVERSED_NAME] }),
        c.query('COMMIT'),
      ]);
      // (A BEGIN refused on a live connection, which pg does not do, would leave the statement committed alone,
      // whole: its requests are answered 5xx, and their retries find their conversions stored.)
      if (b.status === 'rejected') throw b.reason;
      if (r.status === 'rejected') {
        if ((r.reason as { code?: unknown }).code === NEEDS_LOCKS) return undefined;
        throw r.reason;
      }
      if (k.status === 'rejected') throw k.reason;
      const results = this.conversions.locklessOutcomes(stores, batch, r.value.rows);
      const out: IntakeResult[] = new Array(units).fill(null);
      results.forEach((res, i) => (out[storeAt[i]] = res));
      return { out, stored: stores.length - r.value.rows.length };
    } catch (e) {
      broken = e instanceof Error ? e : new Error(String(e));
      throw e;
    } finally {
      // Kept only while nobody waits on the pool for one: the one-by-one retry of a failed batch (and group commit off)
      // writes many at once, and a connection kept from a waiter would leave it waiting until its connect timeout.
      if (broken || this.pipelined.waitingCount > 0) c.release(broken);
      else this.kept.push(c);
    }
  }

  /** The batch under the repeats' row locks (adjustments, test postbacks, repeats the snapshot did not hold). */
  private async writeLocked(values: unknown[], units: IntakeUnit[], stores: BatchDraft[], storeAt: number[], batch: ConversionBatch, refusals: boolean): Promise<IntakeResult[]> {
    const runner = this.ds.createQueryRunner();
    try {
      const c = (await runner.connect()) as PgClient;
      const query: RawQuery = async (name, text, values) => (await c.query({ name, text, values })).rows;
      // Through the runner, so Outbox.add (an adjustment's event) sees the transaction.
      await runner.startTransaction();
      const repeated = await query('ingest-intake', INTAKE_SQL, values);
      const repeatIds = new Set(repeated.map((r) => String(r.unit_id)));
      const inserted = new Set(batch.ids.filter((id) => !repeatIds.has(id)));
      const results = await this.conversions.settleBatch(runner.manager, query, stores, batch, inserted, 'postback');
      const out: IntakeResult[] = new Array(units.length).fill(null);
      const later: RepeatArchiveRow[] = [];
      for (const [k, r] of results.entries()) {
        const u = units[storeAt[k]];
        out[storeAt[k]] = r;
        // Stored and refused requests were archived by the statement; repeats are archived now, their outcome known.
        if (r.outcome !== 'stored') later.push({ id: u.id, request: u.request, outcome: outcomeOf(r) });
        if (u.testOf) await this.partners.recordTest(u.testOf, u.request.receivedAt, r.outcome, runner.manager);
      }
      await this.archive.insertMany(query, later);
      await runner.commitTransaction();
      // Each relay only when the batch gave it rows: a kick is a read (the outbox's a transaction) per batch.
      if (inserted.size) this.events.kick();
      if (refusals || later.some((o) => o.outcome.outcome === 'adjusted')) this.relay.kick();
      return out;
    } catch (e) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw e;
    } finally {
      await runner.release().catch(() => undefined);
    }
  }

  /** A reversal: its archive row, the reversal and the row's outcome in one (shared) transaction. */
  async reverse<T extends StoreLike>(id: string, request: ArchivedRequest, m: EntityManager, apply: () => Promise<T>): Promise<T> {
    // The archive row first: the adjustment row names it.
    await this.archive.insert(m, id, request);
    const r = await apply();
    await this.archive.finish({ id, receivedAt: request.receivedAt }, { ...r, conversionRef: r.conversion.id }, m);
    return r;
  }
}

/** A repeat's archive row, written once its outcome is known. */
type RepeatArchiveRow = { id: string; request: ArchivedRequest; outcome: ArchiveOutcome };

/** The pg client under TypeORM's query runner. */
interface PgClient {
  query(q: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

interface StoreLike extends ArchiveOutcome {
  conversion: { id: string };
}

/** What the archive records about a stored, duplicate or adjusted conversion. */
export function outcomeOf(r: StoreResult): ArchiveOutcome & { outcome: StoreResult['outcome'] } {
  if (r.outcome === 'stored') return { outcome: 'stored', conversionRef: r.conversion.id };
  if (r.outcome === 'adjusted') return { outcome: 'adjusted', reason: 'status or payout changed', reasonCode: 'STATUS_OR_PAYOUT_CHANGED', conversionRef: r.conversion.id };
  return { outcome: 'duplicate', reason: r.reason, reasonCode: 'SAME_CONTENT', conversionRef: r.conversion.id };
}

/** The batch's archive rows ($2: archiveRecords; a stored or repeated request's `conversion_ref` the id drawn for its conversion). */
const ARCHIVE_INPUT = archiveRecordset('$2');

/** The refused requests' PostbackRefused outbox rows ($3: id, payload in base64, headers as JSON text; $4 the subject). */
const REFUSED_EVENTS_CTE = `refused_evt AS (
         INSERT INTO "ingest".outbox (id, subject, payload, headers)
         SELECT e.id, $4, decode(e.payload, 'base64'), e.headers::jsonb FROM json_to_recordset($3::json) AS e(id uuid, payload text, headers text, ord int)
         ORDER BY e.ord
       )`;

/** SQLSTATE of the lockless statement's guard ("ingest".postback_batch_needs_locks, migration 1766000000000). */
const NEEDS_LOCKS = 'TK001';
const REVERSED_NAME = statusName(ConversionStatus.CONVERSION_STATUS_REVERSED);

/**
 * INTAKE_SQL for a batch whose repeats need no lock, deciding them itself ($5–$7: DUPLICATE_REASONS.same and
 * .reversed, the REVERSED status). Each repeat (an input row not inserted) is compared with the stored row of its key
 * as the statement's snapshot holds it, or with the batch's own insert of the key: a duplicate when the status and
 * payout are the same or the stored conversion was reversed (repeatVerdict's rule), archived with that outcome. A
 * repeat that is not a duplicate, or whose stored row the snapshot does not hold (a transaction committed it while
 * the statement waited), fails the statement through the guard: the locked path decides it.
 *
 * A duplicate needs no lock: it changes nothing, and the row it was compared with was committed before the
 * statement began (a change committed meanwhile came from a request as concurrent as this one).
 *
 * It returns a row per repeat: the id drawn for it (`unit_id`), its kind of duplicate, and the stored row it repeats
 * as the snapshot held it (nulls when the batch inserted the key).
 */
const INTAKE_LOCKLESS_SQL = `WITH ${CONVERSION_BATCH_CTES}, inserted AS (
         SELECT input.* FROM input JOIN ins USING (id)
       ), repeats AS (
         SELECT i.id AS unit_id, COALESCE(c.id, f.id) AS base_id,
           CASE WHEN COALESCE(c.status, f.status) = i.status AND COALESCE(c.currency::text, f.currency) = i.currency
                  AND COALESCE(c.payout_micros, f.payout_micros) = i.payout_micros THEN 'same'
                WHEN COALESCE(c.status, f.status) = $7 THEN 'reversed' END AS kind
         FROM input i
         LEFT JOIN "ingest".conversions c ON c.partner_id = i.partner_id AND c.conversion_id = i.conversion_id
         LEFT JOIN inserted f ON c.id IS NULL AND f.partner_id = i.partner_id AND f.conversion_id = i.conversion_id
         WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = i.id)
       ), guard AS (
         SELECT "ingest".postback_batch_needs_locks((count(*) FILTER (WHERE kind IS NULL OR base_id IS NULL))::int) AS ok FROM repeats
       ), arc AS (
         INSERT INTO "ingest".postback_requests ${ARCHIVE_COLUMNS}
         SELECT ${ARCHIVE_REQUEST_VALUES},
           CASE WHEN a.conversion_ref IS NULL THEN a.outcome WHEN ins.id IS NOT NULL THEN 'stored' ELSE 'duplicate' END,
           CASE r.kind WHEN 'same' THEN $5 WHEN 'reversed' THEN $6 ELSE a.reason END,
           CASE WHEN r.kind IS NOT NULL THEN 'SAME_CONTENT' ELSE a.reason_code END,
           COALESCE(ins.id, r.base_id)
         FROM ${ARCHIVE_INPUT}
         LEFT JOIN ins ON ins.id = a.conversion_ref
         LEFT JOIN repeats r ON r.unit_id = a.conversion_ref
         ORDER BY a.ord
       ), ${REFUSED_EVENTS_CTE}
       SELECT r.unit_id, r.kind, c.* FROM repeats r
       CROSS JOIN guard
       LEFT JOIN "ingest".conversions c ON c.id = r.base_id`;

/**
 * The batch's one statement: the conversions, each with its ConversionReceived (CONVERSION_BATCH_CTES, $1), the
 * archive rows ($2) of refused requests (with their outcome) and of stored ones (`stored`, with the conversion),
 * and the PostbackRefused events ($3, $4). A repeat (its conversion not inserted) is archived later in the same
 * transaction, once settled, with its outcome. The archive's conversion_ref names a row inserted by the same
 * statement, or one a repeat found (no foreign key: migration 1766000000001).
 *
 * It returns the repeats: the id drawn for each (`unit_id`); settleBatch reads their rows under lock.
 */
const INTAKE_SQL = `WITH ${CONVERSION_BATCH_CTES}, arc AS (
         INSERT INTO "ingest".postback_requests ${ARCHIVE_COLUMNS}
         SELECT ${ARCHIVE_REQUEST_VALUES},
           CASE WHEN a.conversion_ref IS NULL THEN a.outcome WHEN ins.id IS NOT NULL THEN 'stored' END, a.reason, a.reason_code, ins.id
         FROM ${ARCHIVE_INPUT}
         LEFT JOIN ins ON ins.id = a.conversion_ref
         WHERE a.conversion_ref IS NULL OR ins.id IS NOT NULL
         ORDER BY a.ord
       ), ${REFUSED_EVENTS_CTE}
       SELECT i.id AS unit_id FROM input i WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.id = i.id)`;
