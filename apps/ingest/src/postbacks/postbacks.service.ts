import { contextHeadersFor, countPostback, withRequestId } from '@trackly/observability';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { GroupCommit, isDatabaseUnavailable } from '@trackly/database';
import { DataSource, EntityManager } from 'typeorm';
import { CLOCK, Clock, DomainError, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import type { ReplayedPostback, ReplayPostbacksRequest, ReplayPostbacksResponse } from '@trackly/contracts/ingest/v1/ingest_service';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { AdjustmentCause, parseReversal, ReversalKey } from '../domain/conversion-adjustment';
import { validateReplay } from '../domain/replay.rules';
import { ConversionDraft, FieldProblems, orThrow, partnerIdProblem, RawParams } from '../domain/conversion.rules';
import { effectiveClickIdParam } from '../domain/partner.rules';
import { bodyKind, mergeParams, parseJsonParams, parseUrlEncoded, redactJsonToken, redactUrlEncodedToken, urlEncodingProblem } from '../domain/postback-params';
import { parsePostback } from '../domain/postback.parser';
import { ConversionsService, StoreResult } from '../conversions/conversions.service';
import { ConversionEventsRelay } from '../conversions/conversion-events';
import type { IngestConfig } from '../ingest.config';
import { INGEST_CONFIG } from '../ingest.tokens';
import { PartnerEntity } from '../partners/partner.entity';
import { PartnerCheck, PartnersService } from '../partners/partners.service';
import { ArchivedRequest, PostbackArchive } from './postback-archive.service';
import { IntakeUnit, PostbackIntake } from './postback-intake';
import { PostbackOutcome, PostbackRequestEntity } from './postback-request.entity';

/** A partner HTTP request as the edge received it. */
export interface IncomingPostback {
  partnerId: string;
  /** The client address (the socket peer, or the trusted proxy header's entry). */
  sourceIp: string;
  method: string;
  path: string;
  /** Raw query string without "?". */
  query: string;
  contentType: string | null;
  /** The body bytes, when there was a body and it was read. */
  body: Buffer | null;
  /** Why the body could not be read (status as the body reader reported it: 413 too large, 415, 400). */
  bodyError: { status: number; message: string } | null;
  /**
   * The request id its events and log lines carry, passed explicitly: the edge enters no async context on its common
   * path (see PostbackEdge), which resolves it (its own, or on the Nest route the middleware's context).
   */
  requestId: string | undefined;
}

/** Refusals the edge answers itself with a status of their own (400s come as InvalidArgumentError). */
export type Refusal = 'too_large' | 'uri_too_long' | 'unsupported_media_type' | 'unauthorized' | 'forbidden' | 'not_found';

export type PostbackReply =
  | { kind: 'stored' | 'duplicate' | 'adjusted' | 'reversed'; conversion: Conversion }
  | { kind: Refusal; message: string };

/** A request refused before anything was stored: what the archive records and what the partner is told. */
class Refused extends Error {
  constructor(
    readonly reply: Refusal | 'invalid',
    readonly reasonCode: string,
    message: string,
    readonly error?: DomainError,
  ) {
    super(message);
  }
}

const OUTCOME_OF_REFUSAL: Record<Refusal | 'invalid', PostbackOutcome> = {
  too_large: 'invalid',
  uri_too_long: 'invalid',
  unsupported_media_type: 'invalid',
  invalid: 'invalid',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  not_found: 'not_found',
};

export type PostbackRoute = 'postback' | 'reversal';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A postback's life: archived raw first (token redacted); then size limits, the partner's registration, token and
 * source address; then read by the partner's kind, and stored, found duplicate or applied as an adjustment (or a
 * reversal); the archive row then says what happened and why. Only a failure to store gives an error the partner
 * should retry.
 */
@Injectable()
export class PostbacksService implements BeforeApplicationShutdown {
  constructor(
    private readonly ds: DataSource,
    private readonly archive: PostbackArchive,
    private readonly intake: PostbackIntake,
    private readonly conversions: ConversionsService,
    private readonly partners: PartnersService,
    private readonly relay: OutboxRelay,
    private readonly conversionEvents: ConversionEventsRelay,
    private readonly outbox: Outbox,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
  ) {
    // Reversals (rare) keep a unit of work each in a shared optimistic transaction.
    this.commits = new GroupCommit(ds, {
      enabled: config.INGEST_GROUP_COMMIT,
      windowMs: config.INGEST_GROUP_COMMIT_WINDOW_MS,
      maxBatch: config.INGEST_GROUP_COMMIT_MAX_BATCH,
      maxInFlight: config.INGEST_GROUP_COMMIT_IN_FLIGHT,
    });
  }

  private readonly commits: GroupCommit;

  /** Reversals already queued are committed before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.commits.drain();
  }

  /**
   * `onAuthenticated` is called once the partner, its token and the source address passed (the noise limiter's cue).
   * Never throws: a failure is the returned promise's rejection.
   */
  receive(req: IncomingPostback, route: PostbackRoute = 'postback', onAuthenticated?: () => void): Promise<PostbackReply> {
    // Labelled by registered partner only, so junk partner ids in URLs cannot grow the metric's label set.
    let partnerLabel = 'unregistered';
    let handled: Promise<PostbackReply>;
    try {
      handled = this.handle(req, route, (id) => {
        partnerLabel = id;
        onAuthenticated?.();
      });
    } catch (e) {
      handled = Promise.reject(e);
    }
    return handled.then(
      (reply) => {
        countPostback(partnerLabel, reply.kind);
        return reply;
      },
      (e: unknown) => {
        countPostback(partnerLabel, e instanceof DomainError && e.kind === 'INVALID_ARGUMENT' ? 'invalid' : 'error');
        throw e;
      },
    );
  }

  /**
   * Whether the request carries the current token of the partner it names: what lets a partner through the noise
   * limiter when its address is limited. One read by primary key and nothing written, so a limited storm stays cheap.
   */
  async carriesValidToken(req: IncomingPostback): Promise<boolean> {
    let token: string | undefined;
    try {
      token = tokenOf(this.readParams(req));
    } catch {
      return false;
    }
    return !!token && this.partners.tokenValid(req.partnerId, token);
  }

  /**
   * Everything up to the database is done in memory (the partner row is cached): the request's archive row, and
   * either its conversion or its refusal, then go to the intake's batch, which commits them together; the answer
   * waits for that commit. With an archive id in hand and the partner cached (the common case) no promise is made
   * before the batch's own: each await per postback (with the process's async hooks) showed in the edge's profile.
   */
  private handle(req: IncomingPostback, route: PostbackRoute, onPartner: (partnerId: string) => void): Promise<PostbackReply> {
    const receivedAt = this.clock.now();
    const request: ArchivedRequest = {
      receivedAt,
      partnerId: req.partnerId,
      sourceIp: req.sourceIp,
      method: req.method,
      path: req.path,
      query: redactUrlEncodedToken(req.query),
      contentType: req.contentType,
      body: req.body ? redactBody(req.body.toString('utf8'), req.contentType) : null,
    };
    const id = this.archive.takeId();
    if (id === undefined) return this.archive.nextId().then((next) => this.handleAs(next, req, request, route, onPartner));
    return this.handleAs(id, req, request, route, onPartner);
  }

  /** The request with its archive id drawn: read, checked (the partner read first if it is not cached), then submitted. */
  private handleAs(id: string, req: IncomingPostback, request: ArchivedRequest, route: PostbackRoute, onPartner: (partnerId: string) => void): Promise<PostbackReply> {
    let params: RawParams;
    let check: PartnerCheck | undefined;
    const requestId = req.requestId;
    try {
      params = this.readParams(req);
      check = this.partners.checkCached(req.partnerId, tokenOf(params), req.sourceIp);
    } catch (e) {
      return this.refuse(id, request, requestId, e);
    }
    if (check === undefined) {
      return this.partners.check(req.partnerId, tokenOf(params), req.sourceIp).then(
        (c) => this.checked(id, request, requestId, route, params, c, onPartner),
        (e: unknown) => this.refuse(id, request, requestId, e),
      );
    }
    return this.checked(id, request, requestId, route, params, check, onPartner);
  }

  private checked(
    id: string,
    request: ArchivedRequest,
    requestId: string | undefined,
    route: PostbackRoute,
    params: RawParams,
    check: PartnerCheck,
    onPartner: (partnerId: string) => void,
  ): Promise<PostbackReply> {
    let unit: IntakeUnit;
    try {
      if (!check.ok) throw new Refused(check.refusal, check.reasonCode, check.message);
      const partner = check.partner;
      onPartner(partner.partnerId);
      if (route === 'reversal') return this.reverse(id, request, requestId, partner, params).catch((e: unknown) => this.refuse(id, request, requestId, e));
      const receivedAt = request.receivedAt;
      const parsed = this.parse(partner, params, receivedAt);
      const draft = check.test ? { ...parsed, test: true } : parsed;
      // The request's id (and trace) are taken here: the batch is written in the flusher's context.
      const store = { draft, receivedAt, postbackRequestId: id, headers: contextHeadersFor(requestId, true) };
      // A test conversion (ours or the partner's own test flag) is the partner's last test too.
      unit = draft.test ? { id, request, store, testOf: partner.partnerId } : { id, request, store };
    } catch (e) {
      return this.refuse(id, request, requestId, e);
    }
    return this.intake.submitSettled(unit).then(
      (s): PostbackReply | Promise<PostbackReply> => (s.ok ? { kind: s.value!.outcome, conversion: s.value!.conversion } : this.refuse(id, request, requestId, s.error)),
      (e: unknown) => this.refuse(id, request, requestId, e),
    );
  }

  /** A reversal (rare) in the request's context: its events' headers and any log line below take the id from it. */
  private async reverse(id: string, request: ArchivedRequest, requestId: string | undefined, partner: PartnerEntity, params: RawParams): Promise<PostbackReply> {
    const key = reversalKey(params);
    const applied: Applied = await withRequestId(requestId, () =>
      this.commits.run((m) => this.intake.reverse(id, request, m, () => this.reverseKey(m, partner, key, request.receivedAt, id))),
    );
    this.relay.kick();
    return { kind: applied.outcome, conversion: applied.conversion };
  }

  /** A postback read with the partner's current settings, or a refusal naming every problem. */
  private parse(partner: PartnerEntity, params: RawParams, receivedAt: Date): ConversionDraft {
    const parsed = parsePostback(params, {
      receivedAt,
      defaultCurrency: partner.defaultCurrency,
      kind: partner.kind,
      clickIdParam: effectiveClickIdParam(partner),
      timeZone: partner.timeZone,
    });
    if (!parsed.ok) {
      const error = InvalidArgumentError.of(parsed.fields);
      throw new Refused('invalid', 'INVALID_FIELDS', error.message, error);
    }
    return { partnerId: partner.partnerId, ...parsed.value };
  }

  private async storeDraft(m: EntityManager, draft: ConversionDraft, receivedAt: Date, cause: AdjustmentCause, requestId: string): Promise<Applied> {
    return appliedOf(await this.conversions.storeIn(m, draft, receivedAt, { adjust: cause, postbackRequestId: requestId }));
  }

  private async reverseKey(m: EntityManager, partner: PartnerEntity, key: ReversalKey, at: Date, requestId: string): Promise<Applied> {
    const r = await this.conversions.reverseIn(m, partner.partnerId, key, at, requestId);
    if (r.outcome === 'reversed') return { outcome: 'reversed', conversion: r.conversion };
    return { outcome: 'duplicate', reason: 'conversion already reversed', reasonCode: 'ALREADY_REVERSED', conversion: r.conversion };
  }

  /**
   * IngestService.ReplayPostbacks: archived requests of one partner re-read with its current settings, oldest first,
   * in one transaction (rolled back for a dry run, so the answer is exactly what a real replay would do). The token
   * and source address are not checked again: the archive holds no token, and an operator asked for the replay.
   * A conversion already stored comes back as a duplicate, so replaying twice is harmless.
   */
  async replay(req: ReplayPostbacksRequest): Promise<ReplayPostbacksResponse> {
    const q = orThrow(validateReplay(req));
    const partner = await this.partnerOrThrow(q.partnerId);
    const now = this.clock.now();
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const m = runner.manager;
      const rows = await this.archive.selectForReplay(m, q);
      const selected = rows.slice(0, q.limit);
      const results: ReplayedPostback[] = [];
      for (const row of selected) {
        const request = q.dryRun ? { id: row.id, receivedAt: row.receivedAt } : await this.archive.recordReplay(m, row, now);
        const requestId = request.id;
        let applied: Applied | { outcome: PostbackOutcome; reason: string; reasonCode: string; conversion?: undefined };
        try {
          const params = this.readParams(incomingFromArchive(row));
          applied = row.path.endsWith('/reversal')
            ? await this.reverseKey(m, partner, reversalKey(params), row.receivedAt, requestId)
            : await this.storeDraft(m, this.parse(partner, params, row.receivedAt), row.receivedAt, 'replay', requestId);
        } catch (e) {
          const refused = e instanceof Refused ? e : e instanceof DomainError ? refusalOf(e) : undefined;
          if (!refused) throw e;
          applied = { outcome: OUTCOME_OF_REFUSAL[refused.reply], reason: refused.message, reasonCode: refused.reasonCode };
        }
        if (!q.dryRun) await this.archive.finish(request, { ...applied, conversionRef: applied.conversion?.id }, m);
        results.push({
          requestId: row.id,
          originalOutcome: row.outcome ?? '',
          outcome: applied.outcome,
          reasonCode: applied.reasonCode ?? '',
          reason: applied.reason ?? '',
          conversionId: applied.conversion?.conversionId ?? '',
        });
      }
      const counts: Record<string, bigint> = {};
      for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0n) + 1n;
      if (!q.dryRun) {
        await this.outbox.add(m, Events.PostbacksReplayed, {
          partnerId: q.partnerId, receivedFrom: q.from, receivedTo: q.to,
          outcomeCounts: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.toString()])), truncated: rows.length > q.limit,
        });
      }
      if (q.dryRun) await runner.rollbackTransaction();
      else await runner.commitTransaction();
      if (!q.dryRun) {
        this.conversionEvents.kick();
        this.relay.kick();
      }
      return {
        dryRun: q.dryRun,
        results,
        outcomeCounts: Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v.toString()])),
        truncated: rows.length > q.limit,
      };
    } catch (e) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw e;
    } finally {
      await runner.release();
    }
  }

  private async partnerOrThrow(partnerId: string): Promise<PartnerEntity> {
    const partner = await this.ds.getRepository(PartnerEntity).findOneBy({ partnerId });
    if (!partner) throw new NotFoundError('partner', partnerId);
    return partner;
  }

  /**
   * A refusal (ours, or a domain refusal met while storing: unknown conversion, ambiguous key) is archived with its
   * PostbackRefused through the intake's batch and becomes the answer; anything else is an error of ours, archived
   * alone with outcome `error` (unless the database is gone) and rethrown.
   */
  private async refuse(id: string, request: ArchivedRequest, requestId: string | undefined, e: unknown): Promise<PostbackReply> {
    const refused = e instanceof Refused ? e : e instanceof DomainError ? refusalOf(e) : undefined;
    if (!refused) {
      if (!isDatabaseUnavailable(e)) await withRequestId(requestId, () => this.intake.archiveError(id, request, e));
      throw e;
    }
    const outcome = OUTCOME_OF_REFUSAL[refused.reply];
    const refusal = { outcome, reason: refused.message, reasonCode: refused.reasonCode, partnerId: request.partnerId, headers: contextHeadersFor(requestId, true) };
    try {
      await this.intake.submit({ id, request, refusal });
    } catch (err) {
      if (!isDatabaseUnavailable(err)) await withRequestId(requestId, () => this.intake.archiveError(id, request, err));
      throw err;
    }
    if (refused.reply === 'invalid') throw refused.error ?? new InvalidArgumentError('request', refused.message);
    return { kind: refused.reply, message: refused.message };
  }

  /** Query and body parameters (the body wins), after the size limits; unreadable input is refused here. */
  private readParams(req: IncomingPostback): RawParams {
    const maxQuery = this.config.INGEST_MAX_QUERY_BYTES;
    if (Buffer.byteLength(req.query, 'utf8') > maxQuery) throw new Refused('uri_too_long', 'QUERY_TOO_LONG', `query string exceeds ${maxQuery} bytes`);
    if (req.bodyError) {
      if (req.bodyError.status === 413) {
        throw new Refused('too_large', 'BODY_TOO_LARGE', `request body exceeds ${this.config.INGEST_MAX_BODY_BYTES} bytes`);
      }
      if (req.bodyError.status === 415) throw new Refused('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', req.bodyError.message);
      const error = new InvalidArgumentError('body', `could not be read (${req.bodyError.message})`);
      throw new Refused('invalid', 'UNREADABLE_BODY', error.message, error);
    }
    const fields: FieldProblems = {};
    const partner = partnerIdProblem(req.partnerId);
    if (partner) fields.partner_id = partner;
    const invalid = (reasonCode: string, more: FieldProblems) => {
      const error = InvalidArgumentError.of({ ...fields, ...more });
      return new Refused('invalid', reasonCode, error.message, error);
    };

    let body: RawParams = {};
    if (req.body && req.body.length > 0) {
      const kind = bodyKind(req.contentType ?? undefined);
      if ('unsupported' in kind) throw new Refused('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', kind.unsupported);
      let text: string;
      try {
        text = utf8.decode(req.body);
      } catch {
        throw invalid('UNREADABLE_BODY', { body: 'must be UTF-8 text' });
      }
      if (kind.kind === 'form') {
        const encoding = urlEncodingProblem(text);
        if (encoding) throw invalid('UNREADABLE_BODY', { body: encoding });
        body = parseUrlEncoded(text);
      } else {
        const json = parseJsonParams(text);
        if (!json.ok) throw invalid('UNREADABLE_BODY', json.fields);
        body = json.value;
      }
    }
    if (Object.keys(fields).length) throw invalid('INVALID_PARTNER_ID', {});
    const encoding = urlEncodingProblem(req.query);
    if (encoding) throw invalid('UNREADABLE_QUERY', { query: encoding });
    return mergeParams(parseUrlEncoded(req.query), body);
  }
}

/** A conversion stored, found, adjusted or reversed, with what the archive records about it. */
interface Applied {
  outcome: 'stored' | 'duplicate' | 'adjusted' | 'reversed';
  reason?: string;
  reasonCode?: string;
  conversion: Conversion;
}

/** What the archive records about a stored, duplicate or adjusted conversion. */
function appliedOf(r: StoreResult): Applied {
  if (r.outcome === 'stored') return { outcome: 'stored', conversion: r.conversion };
  if (r.outcome === 'adjusted') return { outcome: 'adjusted', reason: 'status or payout changed', reasonCode: 'STATUS_OR_PAYOUT_CHANGED', conversion: r.conversion };
  return { outcome: 'duplicate', reason: r.reason, reasonCode: 'SAME_CONTENT', conversion: r.conversion };
}

/** Domain refusals met while storing (unknown conversion to reverse, ambiguous key) are the partner's to fix. */
function refusalOf(e: DomainError): Refused {
  return e.kind === 'NOT_FOUND' ? new Refused('not_found', 'UNKNOWN_CONVERSION', e.message, e) : new Refused('invalid', 'INVALID_FIELDS', e.message, e);
}

function reversalKey(params: RawParams): ReversalKey {
  const key = parseReversal(params);
  if (key.ok) return key.value;
  const error = InvalidArgumentError.of(key.fields);
  throw new Refused('invalid', 'INVALID_FIELDS', error.message, error);
}

/** An archived request as the edge would have received it (the token was never archived). */
function incomingFromArchive(row: PostbackRequestEntity): IncomingPostback {
  return {
    partnerId: row.partnerId,
    sourceIp: row.sourceIp,
    method: row.method,
    path: row.path,
    query: row.query,
    contentType: row.contentType,
    body: row.body === null ? null : Buffer.from(row.body, 'utf8'),
    bodyError: null,
    // A replay is read only for its parameters, inside the replay call's own context.
    requestId: undefined,
  };
}

/** The token as sent; a repeated token is ambiguous, so it is checked as their concatenation and cannot match. */
function tokenOf(params: RawParams): string | undefined {
  const t = params.token;
  return Array.isArray(t) ? t.join('&') : t;
}

function redactBody(text: string, contentType: string | null): string {
  const kind = bodyKind(contentType ?? undefined);
  // A body we refuse to read is still archived: whatever it looks like, no token in it may be kept.
  if ('unsupported' in kind) return redactJsonToken(redactUrlEncodedToken(text));
  return kind.kind === 'form' ? redactUrlEncodedToken(text) : redactJsonToken(text);
}
