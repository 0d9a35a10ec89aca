import { Inject, Injectable } from '@nestjs/common';
import { rawPool } from '@trackly/database';
import { DataSource } from 'typeorm';
import { CLOCK, Clock } from '@trackly/kernel';
import { Batcher, LruCache, SingleFlight } from '@trackly/platform';
import { destinationParts } from '../domain/destination-url';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';

/** What the edge reads about a link (sent_at as epoch milliseconds: a double parses far faster than a timestamp). */
const LINK_COLUMNS = `msg.short_code, msg.message_id, msg.contact_id, msg.campaign_id, msg.creative_id, msg.offer_id,
      date_part('epoch', msg.sent_at) * 1000 AS sent_ms, o.destination_url_template
    FROM "tracking".messages AS msg JOIN "tracking".offers AS o ON o.offer_id = msg.offer_id`;

/** A row of LINK_COLUMNS. */
export interface LinkRow {
  short_code: string;
  message_id: string;
  contact_id: string;
  campaign_id: string;
  creative_id: string;
  offer_id: string;
  sent_ms: number;
  destination_url_template: string;
}

/**
 * One probe of the short_code index per code, as a LATERAL subquery that LIMIT keeps from being flattened: the plan is
 * prepared once per connection, and a generic plan made while the messages table was empty (a fresh deployment)
 * otherwise hash-joined a sequential scan of messages for every later read.
 */
const READ_LINKS = {
  name: 'tracking.read-links.v2',
  text: `SELECT m.* FROM unnest($1::text[]) AS k(code)
    CROSS JOIN LATERAL (SELECT ${LINK_COLUMNS} WHERE msg.short_code = k.code LIMIT 1) AS m`,
};

/** A message's ids, as a click row carries them. */
export interface LinkIds {
  messageId: string;
  contactId: string;
  campaignId: string;
  creativeId: string;
  offerId: string;
}

/** What the click edge needs to know about a short code. Messages never change once registered. */
export interface Link extends LinkIds {
  shortCode: string;
  sentAt: Date;
}

export interface ResolvedLink extends Link {
  destinationUrlTemplate: string;
  /** The template filled with everything but the click id (destinationParts): a tap joins them around its own. */
  destinationParts: readonly string[];
}

/**
 * A cached link keeps its last resolution and the templates' version it was made under (LinkCache.templatesVersion):
 * a tap on it then reads one LRU, not two, until an offer upsert in this process bumps the version. Its template is
 * never older than the link's own entry (a link is cached with the template read in the same row), so other
 * replicas' changes still show within the TTL.
 */
type CachedLink = Link & { resolved?: ResolvedLink; version?: number };

function resolveLink(link: CachedLink, template: string, version: number): ResolvedLink {
  const r = link.resolved;
  link.version = version;
  if (r !== undefined && r.destinationUrlTemplate === template) return r;
  const resolved: ResolvedLink = {
    shortCode: link.shortCode,
    messageId: link.messageId,
    contactId: link.contactId,
    campaignId: link.campaignId,
    creativeId: link.creativeId,
    offerId: link.offerId,
    sentAt: link.sentAt,
    destinationUrlTemplate: template,
    destinationParts: destinationParts(template, {
      message_id: link.messageId,
      campaign_id: link.campaignId,
      creative_id: link.creativeId,
      offer_id: link.offerId,
    }),
  };
  link.resolved = resolved;
  return resolved;
}

/**
 * Short code -> message dimensions, and offer -> destination template, in bounded in-memory LRUs with a TTL. The
 * template is cached apart from the link so an offer upsert in this process invalidates one entry, not every
 * link of the offer; other replicas see the change within the TTL. A miss is one indexed read (short_code is
 * unique, the offer is joined by primary key), shared by the misses that arrive together.
 */
@Injectable()
export class LinkCache {
  private readonly links: LruCache<string, CachedLink>;
  private readonly templates: LruCache<string, string>;
  /** A blast's first burst on one code is one read, not one per request queued on the pool. */
  private readonly linkReads = new SingleFlight<string, ResolvedLink | undefined>();
  private readonly templateReads = new SingleFlight<string, string | undefined>();
  /** Bumped by every offer upsert in this process (invalidateOffer): resolutions made before it are not reused. */
  private templatesVersion = 0;
  private readonly reads: Batcher<string, ResolvedLink | undefined>;

  constructor(
    private readonly ds: DataSource,
    @Inject(TRACKING_CONFIG) config: TrackingConfig,
    @Inject(CLOCK) clock: Clock,
  ) {
    this.links = new LruCache(config.TRACKING_LINK_CACHE_SIZE, config.TRACKING_LINK_CACHE_TTL_MS, clock);
    this.templates = new LruCache(Math.min(config.TRACKING_LINK_CACHE_SIZE, 10_000), config.TRACKING_LINK_CACHE_TTL_MS, clock);
    // A blast's clicks are mostly on codes not seen yet: their reads are grouped like the writes, so a burst of
    // misses takes a few pooled connections instead of queueing one query per request in front of the commits.
    this.reads = new Batcher((codes) => this.loadMany(codes), { windowMs: 0, maxBatch: 500, maxInFlight: 2 });
  }

  /** The link and its offer's current template, or undefined for an unknown code. */
  async resolve(shortCode: string): Promise<ResolvedLink | undefined> {
    return this.lookup(shortCode);
  }

  /**
   * As resolve, but a link whose template is cached comes back as is, not in a promise: the click edge's hit path
   * (most taps once a blast's links are read) then awaits nothing but its commit.
   */
  lookup(shortCode: string): ResolvedLink | Promise<ResolvedLink | undefined> {
    const link = this.links.get(shortCode);
    if (!link) return this.read(shortCode);
    const template = this.templates.get(link.offerId);
    if (template !== undefined) return resolveLink(link, template, this.templatesVersion);
    const version = this.templatesVersion;
    return this.loadTemplate(link.offerId).then((t) => (t === undefined ? this.read(shortCode) : resolveLink(link, t, version)));
  }

  private read(shortCode: string): Promise<ResolvedLink | undefined> {
    return this.linkReads.run(shortCode, () => this.reads.submit(shortCode));
  }

  /**
   * Misses of concurrent requests share one read: `short_code = ANY($1)` on the unique index, offers joined by key.
   * A blast's taps are mostly misses (one tap per message), so the read is a prepared statement (planning was most
   * of its database time) and sent_at comes as epoch milliseconds (a double parses far faster than a timestamp).
   */
  private async loadMany(codes: string[]): Promise<(ResolvedLink | undefined)[]> {
    const rows: LinkRow[] =
      (await rawPool(this.ds).query({ ...READ_LINKS, values: [codes] })).rows;
    const found = new Map<string, ResolvedLink>();
    for (const r of rows) found.set(r.short_code, this.remember(r));
    return codes.map((c) => found.get(c));
  }

  /**
   * The link as cached now, and its offer's template, without reading anything: undefined when either is not cached
   * (the click edge then reads and records in one statement).
   */
  cached(shortCode: string): ResolvedLink | undefined {
    const link = this.links.get(shortCode);
    if (!link) return undefined;
    if (link.resolved !== undefined && link.version === this.templatesVersion) return link.resolved;
    const template = this.templates.get(link.offerId);
    return template === undefined ? undefined : resolveLink(link, template, this.templatesVersion);
  }

  /** Caches a link read from the database (LINK_COLUMNS) and its offer's template; returns it resolved. */
  remember(r: LinkRow): ResolvedLink {
    const link: CachedLink = {
      shortCode: r.short_code,
      messageId: r.message_id,
      contactId: r.contact_id,
      campaignId: r.campaign_id,
      creativeId: r.creative_id,
      offerId: r.offer_id,
      sentAt: new Date(r.sent_ms),
    };
    this.links.set(r.short_code, link);
    this.templates.set(r.offer_id, r.destination_url_template);
    return resolveLink(link, r.destination_url_template, this.templatesVersion);
  }

  /**
   * Caches a link whose tap was just recorded from its message row alone (ClickWriter.writeColdOne): the statement
   * gives its ids, and says the message was sent no later than `sentNoLaterThanMs`, which stands in for the send time.
   * That is exact for the classifier: the statement writes a tap only when that bound is at least
   * sendTimeIrrelevantAfterMs old, so every later tap on the link gets the verdict the real send time would give. The
   * offer's template comes from this cache, or one read shared by the taps that need it (a new offer's first taps).
   * Undefined if the offer has no row (catalog rows are never deleted, so not expected).
   */
  recorded(shortCode: string, ids: LinkIds, sentNoLaterThanMs: number): ResolvedLink | Promise<ResolvedLink | undefined> {
    const link: CachedLink = { shortCode, ...ids, sentAt: new Date(sentNoLaterThanMs) };
    const template = this.templates.get(ids.offerId);
    if (template !== undefined) {
      this.links.set(shortCode, link);
      return resolveLink(link, template, this.templatesVersion);
    }
    const version = this.templatesVersion;
    return this.loadTemplate(ids.offerId).then((t) => {
      if (t === undefined) return undefined;
      this.links.set(shortCode, link);
      return resolveLink(link, t, version);
    });
  }

  /** Called after an offer upsert commits: the next click reads the new template. */
  invalidateOffer(offerId: string): void {
    this.templates.delete(offerId);
    // A read begun before the upsert may return the old template: later callers start their own.
    this.templateReads.forget(offerId);
    this.templatesVersion++;
  }

  stats() {
    return { links: this.links.size, hits: this.links.hits, misses: this.links.misses };
  }

  /**
   * The offer's template, read once for the concurrent callers that need it, and cached unless an offer upsert in this
   * process came meanwhile (the read may have seen the old one).
   */
  private loadTemplate(offerId: string): Promise<string | undefined> {
    return this.templateReads.run(offerId, (current) => {
      const version = this.templatesVersion;
      return rawPool(this.ds)
        .query<{ destination_url_template: string }>(`SELECT destination_url_template FROM "tracking".offers WHERE offer_id = $1`, [offerId])
        .then(({ rows }) => {
          if (!rows[0]) return undefined;
          if (current() && this.templatesVersion === version) this.templates.set(offerId, rows[0].destination_url_template);
          return rows[0].destination_url_template;
        });
    });
  }
}
