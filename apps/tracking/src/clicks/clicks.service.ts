import { countClick, outgoingContextHeaders } from '@trackly/observability';
import { BeforeApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Batcher, CLOCK, Clock, NotFoundError, assertId } from '@trackly/kernel';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { classifyHit, DEFAULT_THRESHOLDS, RepeatWindow, Thresholds } from '../domain/click-classifier';
import { renderDestination } from '../domain/destination-url';
import { newClickId, SHORT_CODE_PATTERN } from '../domain/tokens';
import { toClick } from '../tracking.mappers';
import { TRACKING_CONFIG } from '../tracking.tokens';
import type { TrackingConfig } from '../tracking.config';
import { ClickEntity } from './click.entity';
import { ClickWriter, PendingClick } from './click-writer';
import { LinkCache } from './link-cache';
import { MessageEntity } from '../messages/message.entity';

/** What the edge read from the request; header values '' when absent. */
export interface ClickRequest {
  method: string;
  userAgent: string;
  acceptLanguage: string;
  purpose: string;
  ip: string;
}

/**
 * The click edge's rule: classify the hit, record it durably (with its outbox row), then say where to send the
 * contact. Every hit is kept; only HUMAN ones count as clicks. With group commit on, concurrent hits share one
 * transaction, but each call still returns only after its own row committed.
 */
@Injectable()
export class ClicksService implements BeforeApplicationShutdown {
  private readonly batcher?: Batcher<PendingClick, Click>;
  private readonly repeats = new RepeatWindow(60_000);
  private readonly thresholds: Thresholds;

  constructor(
    private readonly ds: DataSource,
    private readonly links: LinkCache,
    private readonly writer: ClickWriter,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(TRACKING_CONFIG) config: TrackingConfig,
  ) {
    this.thresholds = { ...DEFAULT_THRESHOLDS, repeatCodes: config.TRACKING_BOT_REPEAT_CODES };
    if (config.TRACKING_GROUP_COMMIT) {
      this.batcher = new Batcher((items) => this.writer.write(items), {
        windowMs: config.TRACKING_GROUP_COMMIT_WINDOW_MS,
        maxBatch: config.TRACKING_GROUP_COMMIT_MAX_BATCH,
        maxInFlight: config.TRACKING_GROUP_COMMIT_IN_FLIGHT,
      });
    }
  }

  /** Records a hit on a short code and returns the offer URL with the click id filled in. */
  async recordClick(shortCode: string, req: ClickRequest): Promise<{ destination: string; click: Click }> {
    if (!SHORT_CODE_PATTERN.test(shortCode)) throw new NotFoundError('link', shortCode);
    const link = await this.links.resolve(shortCode);
    if (!link) throw new NotFoundError('link', shortCode);
    const clickedAt = this.clock.now();
    const classification = classifyHit(
      {
        method: req.method,
        userAgent: req.userAgent,
        acceptLanguage: req.acceptLanguage,
        purpose: req.purpose,
        at: clickedAt,
        messageSentAt: link.sentAt,
        distinctCodesFromClient: this.repeats.record(`${req.ip}|${req.userAgent}`, shortCode, clickedAt),
      },
      this.thresholds,
    );
    const pending: PendingClick = {
      clickId: newClickId(), link, clickedAt, classification, userAgent: req.userAgent, ip: req.ip, headers: outgoingContextHeaders(true),
    };
    const click = this.batcher ? await this.batcher.submit(pending) : (await this.writer.write([pending]))[0];
    countClick(ClickClass[click.clickClass]?.replace('CLICK_CLASS_', '').toLowerCase() ?? 'unspecified');
    const destination = renderDestination(link.destinationUrlTemplate, {
      click_id: click.clickId,
      message_id: link.messageId,
      campaign_id: link.campaignId,
      creative_id: link.creativeId,
      offer_id: link.offerId,
    });
    return { destination, click };
  }

  async get(clickId: string): Promise<Click> {
    assertId(clickId, 'click_id');
    const click = await this.ds.getRepository(ClickEntity).findOneBy({ clickId });
    if (!click) throw new NotFoundError('click', clickId);
    const message = await this.ds.getRepository(MessageEntity).findOneBy({ messageId: click.messageId });
    return toClick(click, message?.sentAt);
  }

  /** Clicks already queued are written before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.batcher?.drain();
  }
}
