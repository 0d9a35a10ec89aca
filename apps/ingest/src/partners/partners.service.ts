import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Events, Outbox, OutboxRelay } from '@trackly/messaging';
import { CLOCK, Clock, InvalidArgumentError, NotFoundError } from '@trackly/kernel';
import { LruCache, SingleFlight } from '@trackly/platform';
import type { Partner } from '@trackly/contracts/ingest/v1/ingest';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import type {
  GetPostbackTemplateResponse,
  ListPartnersRequest,
  ListPartnersResponse,
  UpsertPartnerRequest,
  UpsertPartnerResponse,
} from '@trackly/contracts/ingest/v1/ingest_service';
import { orThrow, partnerIdProblem } from '../domain/conversion.rules';
import { encodePartnerPageToken, validatePartnerPage } from '../domain/partner-listing';
import { partnerKindName, postbackTemplate, validatePartner } from '../domain/partner.rules';
import { addressAllowed, parseAllowList } from '../domain/source-addresses';
import type { IngestConfig } from '../ingest.config';
import { toPartner } from '../wire';
import { INGEST_CONFIG } from '../ingest.tokens';
import { PartnerEntity } from './partner.entity';
import { newPartnerToken, tokenMatches, tokenSha256 } from './partner-token';
import { TEST_CREDENTIAL_PREFIX, TestCredentials } from './test-credentials';

const PARTNER_CACHE_MAX = 10_000;

/** Why the edge refuses a request before reading it. */
export type PartnerCheck =
  | { ok: true; partner: PartnerEntity; /** Authenticated by a SendTestPostback credential: a test conversion. */ test?: boolean }
  | { ok: false; refusal: 'not_found' | 'unauthorized' | 'forbidden'; reasonCode: string; message: string };

/** The partner registry: who may post, with which token, from where, and how their postbacks read. */
@Injectable()
export class PartnersService {
  /**
   * Partner rows as the edge last read them (misses included), for INGEST_PARTNER_CACHE_MS: a partner's every
   * postback read the same row, one query per postback. Upserts and rotations here drop the entry at once; other
   * replicas see a change within the TTL (so a rotated token keeps working there for at most that long). Bounded, so
   * junk partner ids cannot grow it.
   */
  private readonly cache?: LruCache<string, PartnerEntity | null>;

  constructor(
    private readonly ds: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(INGEST_CONFIG) private readonly config: IngestConfig,
    private readonly testCredentials: TestCredentials,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
  ) {
    if (config.INGEST_PARTNER_CACHE_MS > 0) this.cache = new LruCache(PARTNER_CACHE_MAX, config.INGEST_PARTNER_CACHE_MS, clock);
  }

  /**
   * Reads in progress, by partner id: when an entry expires under load, the postbacks that find it gone share one read
   * instead of one read each (the edge's profile showed that herd every TTL).
   */
  private readonly reads = new SingleFlight<string, PartnerEntity | null>();

  private cachedRow(partnerId: string): Promise<PartnerEntity | null> {
    const hit = this.cache?.get(partnerId);
    if (hit !== undefined) return Promise.resolve(hit);
    const cache = this.cache;
    if (!cache) return this.ds.getRepository(PartnerEntity).findOneBy({ partnerId });
    return this.reads.run(partnerId, (current) =>
      this.ds.getRepository(PartnerEntity).findOneBy({ partnerId }).then((row) => {
        // Not when a change here dropped the read meanwhile (forget()): it may predate the change.
        if (current()) cache.set(partnerId, row);
        return row;
      }),
    );
  }

  /** Drops what this process knows of a partner after a change: the next postback reads the row again. */
  private forget(partnerId: string): void {
    this.cache?.delete(partnerId);
    this.reads.forget(partnerId);
  }

  /** Replaces a partner's settings; a new partner gets a token, which is returned here and never again. */
  async upsert(req: UpsertPartnerRequest): Promise<UpsertPartnerResponse> {
    const p = orThrow(validatePartner(req, this.config.INGEST_DEFAULT_CURRENCY));
    const now = this.clock.now();
    const token = newPartnerToken();
    // On conflict the token hash is left alone: only a created row uses the new token. The change and its
    // PartnerUpserted (never the token) commit together.
    const res = await this.ds.transaction(async (m) => {
    const [row]: { created: boolean }[] = await m.query(
      `INSERT INTO "ingest".partners AS t (partner_id, name, kind, click_id_param, default_currency, allowed_sources,
         token_sha256, token_issued_at, created_at, updated_at, time_zone)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)
       ON CONFLICT (partner_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, click_id_param = EXCLUDED.click_id_param,
         default_currency = EXCLUDED.default_currency, allowed_sources = EXCLUDED.allowed_sources, updated_at = EXCLUDED.updated_at,
         time_zone = EXCLUDED.time_zone
       RETURNING (xmax = 0) AS created`,
      [p.partnerId, p.name, p.kind, p.clickIdParam, p.defaultCurrency, p.allowedSources, tokenSha256(token), now, p.timeZone],
    );
    const partner = toPartner(await m.getRepository(PartnerEntity).findOneByOrFail({ partnerId: p.partnerId }));
    await this.outbox.add(m, Events.PartnerUpserted, { partner, created: row.created });
    return { partner, created: row.created, token: row.created ? token : '' };
    });
    this.forget(p.partnerId);
    this.relay.kick();
    return res;
  }

  async get(partnerId: string): Promise<Partner> {
    return toPartner(await this.find(partnerId));
  }

  /** Partners by id, one page at a time (the token holds the last id and the kind filter). */
  async list(req: ListPartnersRequest): Promise<ListPartnersResponse> {
    const kind = req.kind ?? PartnerKind.PARTNER_KIND_UNSPECIFIED;
    const name = kind === PartnerKind.PARTNER_KIND_UNSPECIFIED ? undefined : partnerKindName(kind);
    if (kind !== PartnerKind.PARTNER_KIND_UNSPECIFIED && !name) throw new InvalidArgumentError('kind', `is not a known partner kind (${kind})`);
    const filterKey = name ?? 'ALL';
    const q = validatePartnerPage(req.pageSize, req.pageToken, filterKey);
    const qb = this.ds.getRepository(PartnerEntity).createQueryBuilder('p');
    if (name) qb.andWhere('p.kind = :name', { name });
    if (q.after) qb.andWhere('p.partner_id > :after', { after: q.after });
    const rows = await qb.orderBy('p.partner_id', 'ASC').limit(q.pageSize + 1).getMany();
    const page = rows.slice(0, q.pageSize);
    return {
      partners: page.map(toPartner),
      nextPageToken: rows.length > q.pageSize ? encodePartnerPageToken(page[page.length - 1].partnerId, filterKey) : '',
    };
  }

  /** When the partner's last request reached the edge (any outcome), and how many test conversions it has. */
  async activity(partnerId: string): Promise<{ lastPostbackAt: Date | undefined; testConversions: string }> {
    const [row]: { last: Date | null; tests: string }[] = await this.ds.query(
      `SELECT (SELECT max(received_at) FROM "ingest".postback_requests WHERE partner_id = $1 AND replay_of IS NULL) AS last,
              (SELECT count(*) FROM "ingest".conversions WHERE partner_id = $1 AND test)::text AS tests`,
      [partnerId],
    );
    return { lastPostbackAt: row.last ?? undefined, testConversions: row.tests };
  }

  /** A new token; the old one stops working with this commit. */
  async rotateToken(partnerId: string): Promise<{ partner: Partner; token: string }> {
    this.checkId(partnerId);
    const token = newPartnerToken();
    const issuedAt = this.clock.now();
    const rows = await this.ds.transaction(async (m) => {
      const updated: unknown[] = await m.query(
        `UPDATE "ingest".partners SET token_sha256 = $2, token_issued_at = $3, updated_at = $3 WHERE partner_id = $1 RETURNING partner_id`,
        [partnerId, tokenSha256(token), issuedAt],
      );
      // Never the token: who rotated it when is what subscribers need.
      if (updated.length) await this.outbox.add(m, Events.PartnerTokenRotated, { partnerId, tokenIssuedAt: issuedAt });
      return updated;
    });
    this.forget(partnerId);
    this.relay.kick();
    if (!rows.length) throw new NotFoundError('partner', partnerId);
    return { partner: await this.get(partnerId), token };
  }

  /** The URL to paste into the partner's platform; a token given is checked before it is written into the URL. */
  async template(partnerId: string, token: string): Promise<GetPostbackTemplateResponse> {
    const partner = await this.find(partnerId);
    if (token && !tokenMatches(token, partner.tokenSha256)) {
      throw new InvalidArgumentError('token', 'is not the current token of this partner');
    }
    const t = postbackTemplate(partner, this.config.INGEST_PUBLIC_URL, token || null);
    return { url: t.url, clickIdMacro: t.clickIdMacro, tokenIncluded: !!token };
  }

  /**
   * The template URL on another base with the token written in unchecked, plus the partner's default currency: the
   * test postback lets the edge judge the token, so a wrong one is reported as the edge's 401.
   */
  async templateForTest(partnerId: string, token: string, baseUrl: string): Promise<{ url: string; clickIdMacro: string; defaultCurrency: string }> {
    const partner = await this.find(partnerId);
    return { ...postbackTemplate(partner, baseUrl, token), defaultCurrency: partner.defaultCurrency };
  }

  /** The edge's gate: a registered partner (404), its token (401), an allowed source address (403). */
  async check(partnerId: string, token: string | undefined, sourceAddress: string): Promise<PartnerCheck> {
    return this.checkRow(partnerId, await this.cachedRow(partnerId), token, sourceAddress);
  }

  /**
   * check() without a promise when the partner row is cached (the edge's common case: an await per postback showed in
   * its profile); undefined when the row must be read first.
   */
  checkCached(partnerId: string, token: string | undefined, sourceAddress: string): PartnerCheck | undefined {
    const hit = this.cache?.get(partnerId);
    return hit === undefined ? undefined : this.checkRow(partnerId, hit, token, sourceAddress);
  }

  private checkRow(partnerId: string, partner: PartnerEntity | null, token: string | undefined, sourceAddress: string): PartnerCheck {
    if (!partner) return { ok: false, refusal: 'not_found', reasonCode: 'UNKNOWN_PARTNER', message: `partner "${partnerId}" is not registered` };
    if (!token) return { ok: false, refusal: 'unauthorized', reasonCode: 'MISSING_TOKEN', message: 'token is required' };
    // Ingest's own test postback: sent from this process, so the allow-list (the partner's addresses) does not apply.
    if (token.startsWith(TEST_CREDENTIAL_PREFIX) && this.testCredentials.consume(partnerId, token)) return { ok: true, partner, test: true };
    if (!tokenMatches(token, partner.tokenSha256)) return { ok: false, refusal: 'unauthorized', reasonCode: 'BAD_TOKEN', message: 'token is not valid' };
    if (partner.allowedSources.length) {
      const ranges = parseAllowList(partner.allowedSources);
      // Entries were checked when stored; an unreadable list allows nothing rather than everything.
      if (!ranges.ok || !addressAllowed(ranges.value, sourceAddress)) {
        return { ok: false, refusal: 'forbidden', reasonCode: 'SOURCE_NOT_ALLOWED', message: `source address ${sourceAddress} is not in the partner's allow-list` };
      }
    }
    return { ok: true, partner };
  }

  /** Keeps the time and outcome of a partner's last test postback (its status shows them). */
  async recordTest(partnerId: string, at: Date, outcome: string, m: { query: DataSource['query'] } = this.ds): Promise<void> {
    await m.query(`UPDATE "ingest".partners SET last_test_at = $2, last_test_outcome = $3 WHERE partner_id = $1`, [partnerId, at, outcome.slice(0, 500)]);
  }

  /** A one-time credential for ingest's own test postback of this partner (see TestCredentials). */
  testCredential(partnerId: string): string {
    return this.testCredentials.issue(partnerId);
  }

  /** Whether `token` is the current token of a registered partner (no refusal reasons: the noise limiter asks). */
  async tokenValid(partnerId: string, token: string): Promise<boolean> {
    if (partnerIdProblem(partnerId)) return false;
    const partner = await this.cachedRow(partnerId);
    return !!partner && tokenMatches(token, partner.tokenSha256);
  }

  private async find(partnerId: string): Promise<PartnerEntity> {
    this.checkId(partnerId);
    const row = await this.ds.getRepository(PartnerEntity).findOneBy({ partnerId });
    if (!row) throw new NotFoundError('partner', partnerId);
    return row;
  }

  private checkId(partnerId: string): void {
    const problem = partnerIdProblem(partnerId);
    if (problem) throw new InvalidArgumentError('partner_id', problem);
  }
}
