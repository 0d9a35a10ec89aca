import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ClientConfig, Pool, QueryConfig, QueryResult } from 'pg';
import { DataSource } from 'typeorm';
import { rawPool, textArrayParam } from '@trackly/database';
import type { Classification } from '../domain/click-classifier';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';
import { ClickConnections } from './click-connections';
import { ClickEventsRelay } from './click-events';
import type { Link, LinkIds } from './link-cache';

/** One classified hit waiting to be written. */
export interface PendingClick {
  clickId: string;
  link: Link;
  clickedAt: Date;
  classification: Classification;
  userAgent: string;
  ip: string;
  /** Request id of the request that made the hit: its ClickRecorded event carries it. */
  requestId: string;
}

/**
 * A batch of hits is ONE statement, so one round trip and its own transaction: a multi-row INSERT of the click rows
 * (unnest of one array per column), each stamped with the transaction's id for the relay that publishes them as
 * ClickRecorded (click-events.ts). Nothing else is written synchronously: no outbox row, no counter; the first-click
 * flag and the message's counts are derived from the rows. A plain insert takes no row locks, so concurrent batches
 * and replicas never wait on each other. The statement is prepared once per connection (named), so a flush sends
 * only its parameters.
 */
const INSERT_CLICKS = {
  name: 'tracking.insert-clicks.v1',
  text: `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at,
      user_agent, ip, click_class, classification_reason, classifier_version, request_id, xid)
    SELECT i.*, pg_current_xact_id()
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
      $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS i`,
};

/** The same for one hit (group commit off, or a batch of one): scalar parameters serialise and plan cheaper. */
const INSERT_CLICK = {
  name: 'tracking.insert-click.v1',
  text: `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at,
      user_agent, ip, click_class, classification_reason, classifier_version, request_id, xid)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, pg_current_xact_id())`,
};

/**
 * A tap on a link not cached yet, group commit off: the click written from its message's row in one plain
 * `INSERT … SELECT` (one round trip, one wait for a pooled connection, where read-then-INSERT waited twice), if the
 * message was sent no later than `$10` (the tap's time less sendTimeIrrelevantAfterMs, the age past which the
 * classification no longer depends on the send time), so the verdict made before the statement holds. It returns the
 * message's ids from the row written, as an array (no object built per row); the offer's template comes from the link
 * cache (its catalog row is never deleted, so no join to it). No row: an unknown code, or a message sent more
 * recently than the bound; nothing was written either way.
 */
const INSERT_COLD_CLICK = {
  name: 'tracking.insert-cold-click.v2',
  rowMode: 'array',
  text: `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at,
      user_agent, ip, click_class, classification_reason, classifier_version, request_id, xid)
    SELECT $2, m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id, $3, $4, $5, $6, $7, $8, $9, pg_current_xact_id()
    FROM "tracking".messages AS m WHERE m.short_code = $1 AND m.sent_at <= $10
    RETURNING message_id, contact_id, offer_id, campaign_id, creative_id`,
};

/**
 * The same for a batch of such taps (group commit on): one statement, one transaction for the batch. Each tap's
 * message is one probe of the short_code index (a LATERAL subquery that LIMIT keeps from being flattened into a join:
 * a generic plan made on an empty messages table hash-joined a sequential scan of it), under the tap's own bound
 * (`before`). The rows written come back with their click ids; a tap not among them wrote nothing.
 */
const INSERT_COLD_CLICKS = {
  name: 'tracking.insert-cold-clicks.v2',
  rowMode: 'array',
  text: `INSERT INTO "tracking".clicks (click_id, message_id, contact_id, offer_id, campaign_id, creative_id, clicked_at,
      user_agent, ip, click_class, classification_reason, classifier_version, request_id, xid)
    SELECT i.click_id, m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id, i.clicked_at, i.user_agent,
      i.ip, i.click_class, i.reason, i.version, i.request_id, pg_current_xact_id()
    FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
        $9::text[], $10::timestamptz[]) AS i(code, click_id, clicked_at, user_agent, ip, click_class, reason, version, request_id, before)
      CROSS JOIN LATERAL (SELECT m.message_id, m.contact_id, m.offer_id, m.campaign_id, m.creative_id FROM "tracking".messages AS m
        WHERE m.short_code = i.code AND m.sent_at <= i.before LIMIT 1) AS m
    RETURNING click_id, message_id, contact_id, offer_id, campaign_id, creative_id`,
};

/** A classified tap whose link is not known yet (INSERT_COLD_CLICK, INSERT_COLD_CLICKS). */
export type ColdClick = Omit<PendingClick, 'link'> & { shortCode: string };

/** A cold tap and its bound: written only if its message was sent no later than `sentBeforeMs` (epoch ms). */
export interface BoundedColdClick {
  click: ColdClick;
  sentBeforeMs: number;
}

/** What a cold write answers for one tap: its message's ids if it was written, else undefined (unknown code, or a later send). */
export type ColdResult = LinkIds | undefined;

@Injectable()
export class ClickWriter implements OnApplicationShutdown {
  private readonly pool: Pool;
  /** Group commit off: each tap's statement on the edge's own connections (ClickConnections), as many as the pool's. */
  private readonly connections?: ClickConnections;

  constructor(
    ds: DataSource,
    private readonly events: ClickEventsRelay,
    @Inject(TRACKING_CONFIG) config: TrackingConfig,
  ) {
    this.pool = rawPool(ds);
    if (!config.TRACKING_GROUP_COMMIT) {
      const settings = (this.pool as Pool & { options: ClientConfig & { max?: number } }).options;
      this.connections = new ClickConnections({ ...settings, application_name: `${settings.application_name ?? 'trackly'}-clicks` }, settings.max ?? 10);
    }
  }

  /**
   * One hit in its own autocommitted statement (group commit off, or a batch of one): no BEGIN/COMMIT round trips,
   * a named prepared statement with scalar parameters. Resolves once the row is committed.
   */
  writeOne(it: PendingClick): Promise<void> {
    const l = it.link;
    const c = it.classification;
    const query = insertClick([it.clickId, l.messageId, l.contactId, l.offerId, l.campaignId, l.creativeId, it.clickedAt.toISOString(),
      clip(it.userAgent, 512), clip(it.ip, 64), c.class, clip(c.reason, 256), c.version, it.requestId]);
    const connections = this.connections;
    if (!connections) return this.pool.query(query).then(() => this.events.kick());
    return new Promise((resolve, reject) =>
      connections.query(query, (err) => {
        if (err) return reject(err);
        this.events.kick();
        resolve();
      }),
    );
  }

  /**
   * Records a tap on a link not cached from its message's row, in one autocommitted statement, if the message was
   * sent no later than `sentBeforeMs` (epoch ms); resolves once committed with the message's ids, or undefined when
   * nothing was written (an unknown code, or a later send: the caller reads the link to tell which).
   */
  writeColdOne(it: ColdClick, sentBeforeMs: number): Promise<LinkIds | undefined> {
    const c = it.classification;
    const query = insertColdClick([it.shortCode, it.clickId, it.clickedAt.toISOString(), clip(it.userAgent, 512), clip(it.ip, 64), c.class,
      clip(c.reason, 256), c.version, it.requestId, new Date(sentBeforeMs).toISOString()]);
    const connections = this.connections;
    const done = (r: QueryResult): LinkIds | undefined => {
      const row = r.rows[0] as unknown as string[] | undefined;
      if (!row) return undefined;
      this.events.kick();
      return linkIds(row, 0);
    };
    if (!connections) return this.pool.query(query).then(done);
    return new Promise((resolve, reject) => connections.query(query, (err, r) => (err ? reject(err) : resolve(done(r as QueryResult)))));
  }

  /** Resolves once every tap's statement sent so far has finished (group commit off). */
  drain(): Promise<void> {
    return this.connections?.whenIdle() ?? Promise.resolve();
  }

  /** Closes the edge's own connections once their statements are done (after the edge stopped taking taps). */
  async onApplicationShutdown(): Promise<void> {
    await this.connections?.end();
  }

  /**
   * Cold taps of concurrent requests (group commit on): recorded from their messages' rows in one statement, its own
   * transaction. Resolves once committed, one entry per item in order (ColdResult).
   */
  async writeCold(items: BoundedColdClick[]): Promise<ColdResult[]> {
    const n = items.length;
    const cols: string[][] = Array.from({ length: 10 }, () => new Array<string>(n));
    for (let i = 0; i < n; i++) {
      const it = items[i].click;
      const c = it.classification;
      cols[0][i] = it.shortCode;
      cols[1][i] = it.clickId;
      cols[2][i] = it.clickedAt.toISOString();
      cols[3][i] = clip(it.userAgent, 512);
      cols[4][i] = clip(it.ip, 64);
      cols[5][i] = c.class;
      cols[6][i] = clip(c.reason, 256);
      cols[7][i] = c.version;
      cols[8][i] = it.requestId;
      cols[9][i] = new Date(items[i].sentBeforeMs).toISOString();
    }
    // As array literals (textArrayParam): pg escapes each element of an array with a regex.
    const { rows } = await this.pool.query<string[]>(insertColdClicks(cols.map(textArrayParam)));
    const written = new Map<string, LinkIds>();
    for (const r of rows) written.set(r[0], linkIds(r, 1));
    const out = items.map((it) => written.get(it.click.clickId));
    const matched = out.filter(Boolean).length;
    if (matched !== rows.length) throw new Error(`cold click batch wrote ${rows.length} rows, ${matched} of them this batch's taps`);
    if (rows.length) this.events.kick();
    return out;
  }

  /** Resolves (one entry per item) once the batch committed. */
  async write(items: PendingClick[]): Promise<void[]> {
    const n = items.length;
    if (n === 1) {
      await this.writeOne(items[0]);
      return [undefined];
    }
    const cols: unknown[][] = Array.from({ length: 13 }, () => new Array<unknown>(n));
    for (let i = 0; i < n; i++) {
      const it = items[i];
      const l = it.link;
      const c = it.classification;
      cols[0][i] = it.clickId;
      cols[1][i] = l.messageId;
      cols[2][i] = l.contactId;
      cols[3][i] = l.offerId;
      cols[4][i] = l.campaignId;
      cols[5][i] = l.creativeId;
      cols[6][i] = it.clickedAt.toISOString();
      cols[7][i] = clip(it.userAgent, 512);
      cols[8][i] = clip(it.ip, 64);
      cols[9][i] = c.class;
      cols[10][i] = clip(c.reason, 256);
      cols[11][i] = c.version;
      cols[12][i] = it.requestId;
    }
    // As array literals (textArrayParam): pg escapes each element of an array with a regex.
    const { rowCount } = await this.pool.query({ ...INSERT_CLICKS, values: cols.map((col) => textArrayParam(col as string[])) });
    if (rowCount !== n) throw new Error(`click batch wrote ${rowCount} rows for ${n} hits`);
    this.events.kick();
    return new Array<void>(n);
  }
}

/**
 * Makes the query configs of one named statement: `name` and `text` (and `rowMode`) on a shared prototype, `values` the
 * config's only own property. pg copies every config it is given, own property by property (cloneQueryConfig, a few
 * microseconds per tap with three properties); the prototype is kept by the copy.
 */
function statement(s: { name: string; text: string; rowMode?: string }): (values: unknown[]) => QueryConfig {
  const proto = { ...s };
  return (values) => {
    const q = Object.create(proto) as QueryConfig;
    q.values = values;
    return q;
  };
}

const insertClick = statement(INSERT_CLICK);
const insertColdClick = statement(INSERT_COLD_CLICK);
const insertColdClicks = statement(INSERT_COLD_CLICKS);

/** A message's ids from a row of the cold statements (rowMode array): the five columns they return from `at` on. */
function linkIds(row: string[], at: number): LinkIds {
  return { messageId: row[at], contactId: row[at + 1], offerId: row[at + 2], campaignId: row[at + 3], creativeId: row[at + 4] };
}

export function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}
