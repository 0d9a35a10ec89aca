import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { rawPool } from '@trackly/database';
import { CLOCK, Clock, NotFoundError, assertId } from '@trackly/kernel';
import { Batcher, noiseSourceKey } from '@trackly/platform';
import type { Click } from '@trackly/contracts/tracking/v1/tracking';
import { Classification, classifyHit, DEFAULT_THRESHOLDS, HitClass, RepeatCounts, RepeatWindow, sendTimeIrrelevantAfterMs, Thresholds } from '../domain/click-classifier';
import { fillDestination } from '../domain/destination-url';
import { newClickId, SHORT_CODE_PATTERN } from '../domain/short-codes';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';
import { CLICK_COLUMNS, CLICK_JOINS, ClickEventsRelay, clickFromRow, ClickRow } from './click-events';
import { BoundedColdClick, ClickWriter, ColdClick, ColdResult, PendingClick } from './click-writer';
import { LinkCache, ResolvedLink } from './link-cache';

const NO_REPEATS: RepeatCounts = { early: 0, burst: 0 };

/** What the edge read from the request; header values '' when absent. */
export interface ClickRequest {
  method: string;
  userAgent: string;
  acceptLanguage: string;
  purpose: string;
  ip: string;
  requestId: string;
}

/** What the edge answers with. */
export interface RecordedClick {
  destination: string;
  clickId: string;
  clickClass: HitClass;
}

/**
 * The click edge's rule: classify the hit, record it durably (its row is also the source of its ClickRecorded
 * event), then say where to send the contact. Every hit is kept; only HUMAN ones count as clicks. With group commit
 * on, concurrent hits share one statement, but each call still returns only after its own row committed.
 */
@Injectable()
export class ClicksService implements BeforeApplicationShutdown {
  private readonly batcher?: Batcher<PendingClick, void>;
  /** Group commit on: taps on links not cached, read and recorded together (ClickWriter.writeCold). */
  private readonly coldBatcher?: Batcher<BoundedColdClick, ColdResult>;
  /** Cold taps not answered yet (recordCold), for shutdown. */
  private readonly coldInFlight = new Set<Promise<RecordedClick>>();
  private readonly repeats = new RepeatWindow();
  private readonly thresholds: Thresholds;
  private readonly sendTimeIrrelevantMs: number;

  constructor(
    private readonly ds: DataSource,
    private readonly links: LinkCache,
    private readonly writer: ClickWriter,
    private readonly events: ClickEventsRelay,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TRACKING_CONFIG) config: TrackingConfig,
  ) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, repeatCodes: config.TRACKING_BOT_REPEAT_CODES };
    this.sendTimeIrrelevantMs = sendTimeIrrelevantAfterMs(this.thresholds);
    if (config.TRACKING_GROUP_COMMIT) {
      const opts = {
        windowMs: config.TRACKING_GROUP_COMMIT_WINDOW_MS,
        maxBatch: config.TRACKING_GROUP_COMMIT_MAX_BATCH,
        maxInFlight: config.TRACKING_GROUP_COMMIT_IN_FLIGHT,
      };
      this.batcher = new Batcher((items) => this.writer.write(items), opts);
      this.coldBatcher = new Batcher((items) => this.writer.writeCold(items), opts);
    }
  }

  /**
   * Records a hit on a short code and returns the offer URL with the click id filled in. A cached link is classified
   * and written at once (no await before the write); only a miss waits for the link read.
   */
  recordClick(shortCode: string, req: ClickRequest): Promise<RecordedClick> {
    if (!SHORT_CODE_PATTERN.test(shortCode)) return Promise.reject(new NotFoundError('link', shortCode));
    // A link not cached is read by the statement that records the tap (one round trip; with group commit, one
    // statement for the cold taps of a batch).
    const cached = this.links.cached(shortCode);
    if (!cached) return this.recordCold(shortCode, req);
    try {
      return this.record(shortCode, cached, req);
    } catch (e) {
      return Promise.reject(e); // as on the cold path: the edge maps every failure from the promise
    }
  }

  /**
   * A tap on a link not cached: classified as if its message were sent long enough ago for the send time not to
   * matter (sendTimeIrrelevantAfterMs), then recorded from the message's row by one statement that writes it only if
   * that is so (group commit on: the cold taps of concurrent requests share that statement). A tap the statement did
   * not write is an unknown code or a recent send: the link is read, and the tap takes the ordinary path with its real
   * send time (the repeat window re-records it), or is taken back out of the repeat window and gets a 404.
   */
  private recordCold(shortCode: string, req: ClickRequest): Promise<RecordedClick> {
    const clickedAt = this.clock.now();
    const sentBefore = clickedAt.getTime() - this.sendTimeIrrelevantMs;
    const client = `${noiseSourceKey(req.ip)}|${req.userAgent}|${req.acceptLanguage}`;
    const repeats = this.thresholds.repeatCodes ? this.repeats.record(client, shortCode, clickedAt, this.sendTimeIrrelevantMs) : NO_REPEATS;
    const classification = this.classify(req, clickedAt, new Date(sentBefore), repeats);
    const clickId = newClickId();
    const cold: ColdClick = { shortCode, clickId, clickedAt, classification, userAgent: req.userAgent, ip: req.ip, requestId: req.requestId };
    const unknown = () => {
      if (this.thresholds.repeatCodes) this.repeats.forget(client, shortCode);
      throw new NotFoundError('link', shortCode);
    };
    const written: Promise<ColdResult> = this.coldBatcher
      ? this.coldBatcher.submit({ click: cold, sentBeforeMs: sentBefore })
      : this.writer.writeColdOne(cold, sentBefore);
    const done = written.then((ids) => {
      if (!ids) return this.links.resolve(shortCode).then((link) => (link ? this.record(shortCode, link, req) : unknown()));
      const link = this.links.recorded(shortCode, ids, sentBefore);
      if (!(link instanceof Promise)) return this.answer(link, clickId, classification);
      return link.then((l) => {
        // Committed, but its offer has no row: not expected (catalog rows are never deleted), and no redirect to give.
        if (!l) throw new Error(`click ${clickId} recorded, but offer ${ids.offerId} of message ${ids.messageId} has no row`);
        return this.answer(l, clickId, classification);
      });
    });
    // Shutdown waits for it: a tap the statement did not write still has its link to read and its row to write.
    this.coldInFlight.add(done);
    const settled = () => this.coldInFlight.delete(done);
    done.then(settled, settled);
    return done;
  }

  private record(shortCode: string, link: ResolvedLink, req: ClickRequest): Promise<RecordedClick> {
    const clickedAt = this.clock.now();
    // The client as a scanner keeps it and as phones behind a carrier NAT share it (an IPv6 client by its /64).
    const repeats = this.thresholds.repeatCodes
      ? this.repeats.record(`${noiseSourceKey(req.ip)}|${req.userAgent}|${req.acceptLanguage}`, shortCode, clickedAt, clickedAt.getTime() - link.sentAt.getTime())
      : NO_REPEATS;
    const classification = this.classify(req, clickedAt, link.sentAt, repeats);
    const pending: PendingClick = { clickId: newClickId(), link, clickedAt, classification, userAgent: req.userAgent, ip: req.ip, requestId: req.requestId };
    // Group commit off: this hit's own autocommitted INSERT (one round trip, no BEGIN/COMMIT).
    const committed = this.batcher ? this.batcher.submit(pending) : this.writer.writeOne(pending);
    return committed.then(() => this.answer(link, pending.clickId, classification));
  }

  private classify(req: ClickRequest, at: Date, messageSentAt: Date, repeats: RepeatCounts): Classification {
    return classifyHit(
      { method: req.method, userAgent: req.userAgent, acceptLanguage: req.acceptLanguage, purpose: req.purpose, at, messageSentAt, repeats },
      this.thresholds,
    );
  }

  private answer(link: ResolvedLink, clickId: string, classification: Classification): RecordedClick {
    return {
      destination: fillDestination(link.destinationParts, clickId),
      clickId,
      clickClass: classification.class,
    };
  }

  /** One click as its ClickRecorded event describes it (the first-click flag derived the same way). */
  async get(clickId: string): Promise<Click> {
    assertId(clickId, 'click_id');
    const { rows } = await rawPool(this.ds).query<ClickRow>(`SELECT ${CLICK_COLUMNS} FROM "tracking".clicks AS t ${CLICK_JOINS} WHERE t.click_id = $1`, [clickId]);
    if (!rows[0]) throw new NotFoundError('click', clickId);
    return clickFromRow(rows[0]);
  }

  /** Clicks already queued are written, then their events published, before NATS and the database close. */
  async beforeApplicationShutdown(): Promise<void> {
    // Cold taps first: one the statement did not write (a recent send) reads its link and joins the other batcher.
    await this.coldBatcher?.drain();
    await Promise.allSettled([...this.coldInFlight]);
    await this.batcher?.drain();
    await this.writer.drain();
    await this.events.stop();
  }
}
