/**
 * Load through the public edges, as the sending platform, phones and partners produce it: catalog and sends over
 * tracking's gRPC, taps on GET /c/{code}, postbacks on GET /postbacks/{partner}. Partners retry on 5xx and on
 * connection errors, so the driver does too; every answer is counted.
 */
import { randomInt } from 'node:crypto';
import { createGrpcClient } from '@trackly/grpc';
import { EVENT_ID_HEADER, Events } from '@trackly/messaging';
import { TrackingServiceService } from '@trackly/contracts/tracking/v1/tracking_service';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { ClickRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { jetstream } from '@nats-io/jetstream';
import { sleep } from './infra';
import type { Platform } from './platform';

export type Kind = 'click' | 'early' | 'unknown';
export type Status = 'approved' | 'pending' | 'rejected';

/** One sale a partner reports, and what the books must say about it. */
export interface Sale {
  conversionId: string;
  clickId: string;
  kind: Kind;
  status: Status;
  currency: string;
  payout: string;
  micros: bigint;
  occurredAt: string;
  /** For 'early': the send its click event (published after the postback) belongs to. */
  message?: SentMessage;
  /** Re-sent under the same conversion id (a partner retry: stored once). */
  resend: boolean;
  /** Re-sent under another conversion id, same click, second and payout (stored; one of the two is DUPLICATE). */
  twin: boolean;
}

export interface SentMessage {
  messageId: string;
  contactId: string;
  trackedUrl: string;
  sentAt: Date;
}

export interface Counters {
  clicks: number;
  postbacksSent: number;
  answers: Record<string, number>;
  http503: number;
  retryAfterSeen: number;
  connErrors: number;
  otherErrors: number;
  earlyClickEvents: number;
  /** Most conversions seen parked at once during the load (conversions ahead of their click). */
  parkedPeak: number;
}

export const newCounters = (): Counters => ({ clicks: 0, postbacksSent: 0, answers: {}, http503: 0, retryAfterSeen: 0, connErrors: 0, otherErrors: 0, earlyClickEvents: 0, parkedPeak: 0 });

const CURRENCIES = ['USD', 'EUR', 'GBP'];
const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

/** 10% of sales name a click whose event arrives after the postback, 1% a click id tracking never issues. */
export function kindOf(i: number): Kind {
  const r = (i * 7919) % 100;
  return r < 10 ? 'early' : r === 99 ? 'unknown' : 'click';
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function isConnectionError(e: unknown): boolean {
  const cause = (e as { cause?: { code?: string } }).cause;
  return e instanceof TypeError || /ECONNREFUSED|ECONNRESET|socket|fetch failed|other side closed/i.test(`${(e as Error).message} ${cause?.code ?? ''}`);
}

/**
 * GET with a partner's retry policy: 5xx and connection errors are retried (honouring Retry-After, capped so the
 * suite stays quick) until the deadline; anything else is the answer.
 */
async function getWithRetry(url: string, headers: Record<string, string>, c: Counters, deadlineMs = 180_000): Promise<Response> {
  const until = Date.now() + deadlineMs;
  let attempt = 0;
  for (;;) {
    attempt++;
    try {
      const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
      if (res.status < 500) return res;
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 503) c.http503++;
      else c.otherErrors++;
      if (res.headers.get('retry-after')) c.retryAfterSeen++;
      if (Date.now() > until) throw new Error(`${url}: still ${res.status} after ${attempt} attempts`);
      const retryAfter = Number(res.headers.get('retry-after') ?? '0') * 1000;
      await sleep(Math.min(1000, Math.max(retryAfter ? 500 : 100, 50 * attempt)));
    } catch (e) {
      if ((e as Error).message?.includes('still')) throw e;
      if (isConnectionError(e) || (e as Error).name === 'TimeoutError') c.connErrors++;
      else throw e;
      if (Date.now() > until) throw new Error(`${url}: unreachable after ${attempt} attempts (${(e as Error).message})`);
      await sleep(Math.min(1000, 100 * attempt));
    }
  }
}

export class LoadDriver {
  readonly tracking;
  readonly ingest;
  private readonly js;

  constructor(
    private readonly p: Platform,
    private readonly nc: NatsConnection,
  ) {
    this.tracking = createGrpcClient(TrackingServiceService, p.grpc.tracking);
    this.ingest = createGrpcClient(IngestServiceService, p.grpc.ingest);
    this.js = jetstream(nc);
  }

  close(): void {
    this.tracking.close();
    this.ingest.close();
  }

  /** A partner, an offer and `count` sends (one contact each), sent ten minutes ago so taps are people, not previews. */
  async setup(scenario: string, count: number): Promise<{ partner: string; token: string; offer: string; messages: SentMessage[] }> {
    const partner = `p-${scenario}`;
    const offer = `offer-${scenario}`;
    const { token } = await this.ingest.upsertPartner({
      partnerId: partner, name: `Fault suite ${scenario}`, kind: PartnerKind.PARTNER_KIND_GENERIC, clickIdParam: '', defaultCurrency: 'USD', allowedSources: [],
    });
    await this.tracking.upsertCampaign({ campaignId: `camp-${scenario}`, name: `Campaign ${scenario}` });
    await this.tracking.upsertCreative({ creativeId: `cr-${scenario}`, name: `Creative ${scenario}` });
    await this.tracking.upsertOffer({
      offerId: offer, name: `Offer ${scenario}`, destinationUrlTemplate: 'https://shop.example/land?cid={click_id}',
      defaultPayout: { currencyCode: 'USD', amountMicros: '1000000' },
    });
    const sentAt = new Date(Date.now() - 10 * 60_000);
    const messages: SentMessage[] = [];
    for (let from = 0; from < count; from += 1000) {
      const batch = Array.from({ length: Math.min(1000, count - from) }, (_, k) => ({
        messageId: `m-${scenario}-${from + k}`, contactId: `c-${scenario}-${from + k}`, phoneE164: '+15551234567',
        campaignId: `camp-${scenario}`, creativeId: `cr-${scenario}`, offerId: offer, sentAt,
      }));
      const res = await this.tracking.registerMessages({ messages: batch }, { deadlineMs: 60_000 });
      res.messages.forEach((m, k) => messages.push({ messageId: batch[k].messageId, contactId: batch[k].contactId, trackedUrl: m.trackedUrl, sentAt }));
    }
    return { partner, token, offer, messages };
  }

  /** A phone taps the link: a HUMAN click; returns the click id the redirect carries. */
  async tap(m: SentMessage, c: Counters): Promise<string> {
    const res = await getWithRetry(m.trackedUrl, { 'user-agent': PHONE_UA, 'accept-language': 'en-US,en;q=0.9' }, c);
    if (res.status !== 302) throw new Error(`tap ${m.trackedUrl}: ${res.status}`);
    c.clicks++;
    return new URL(res.headers.get('location')!).searchParams.get('cid')!;
  }

  /**
   * Plans `n` sales over the scenario's sends: 10% of them name a click whose event is only published after
   * the postback (so attribution sees the conversion first and parks it), 1% name a click id tracking could never
   * have issued, 3% are rejected, 10% pending; then 15% are re-sent as is and 5% as twins under a new conversion id.
   */
  plan(scenario: string, n: number, messages: SentMessage[], clickIds: string[]): Sale[] {
    // Whole seconds (twins must share the second), never before the taps already made.
    const at = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000).toISOString();
    const sales: Sale[] = [];
    for (let i = 0; i < n; i++) {
      const kind = kindOf(i);
      const status: Status = i % 33 === 5 ? 'rejected' : i % 10 === 3 ? 'pending' : 'approved';
      const cents = BigInt(100 + randomInt(0, 9900));
      const sale: Sale = {
        conversionId: `conv-${scenario}-${i}`,
        clickId: kind === 'click' ? clickIds[i] : kind === 'early' ? `early-${scenario}-${i}` : `unknown!${scenario}-${i}`,
        kind, status, currency: CURRENCIES[i % CURRENCIES.length],
        payout: `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`, micros: cents * 10_000n, occurredAt: at,
        message: messages[i], resend: false, twin: false,
      };
      sales.push(sale);
    }
    const out = [...sales];
    for (let i = 0; i < n; i++) {
      const s = sales[i];
      if (i % 20 < 3) out.push({ ...s, resend: true });
      else if (i % 20 === 4 && s.kind === 'click' && s.status === 'approved') out.push({ ...s, conversionId: `${s.conversionId}-twin`, twin: true });
    }
    // Shuffled (deterministically), so re-sends and twins arrive anywhere in the stream.
    for (let i = out.length - 1; i > 0; i--) {
      const j = (i * 104729 + 7) % (i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** Taps the link of every sale that names a real click; returns the click id per sale index. */
  async clicks(messages: SentMessage[], n: number, c: Counters, concurrency = 16): Promise<string[]> {
    const ids: string[] = new Array(n).fill('');
    const idx = Array.from({ length: n }, (_, i) => i).filter((i) => kindOf(i) === 'click');
    await pool(idx, concurrency, async (i) => {
      ids[i] = await this.tap(messages[i], c);
    });
    return ids;
  }

  /** Sends the postbacks; an 'early' sale's click event goes out only after its postback was answered. */
  async postbacks(partner: string, token: string, sales: Sale[], c: Counters, opts: { concurrency?: number; onProgress?: (done: number) => void } = {}): Promise<void> {
    let done = 0;
    const early: Promise<void>[] = [];
    await pool(sales, opts.concurrency ?? 16, async (s) => {
      const url = new URL(`${this.p.ingestHttp}/postbacks/${partner}`);
      const params = { token, click_id: s.clickId, conversion_id: s.conversionId, payout: s.payout, currency: s.currency, status: s.status, occurred_at: s.occurredAt };
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
      c.postbacksSent++;
      const res = await getWithRetry(url.toString(), { 'user-agent': 'fault-suite-partner/1' }, c);
      const body = (await res.json().catch(() => ({}))) as { status?: string };
      const key = res.status === 200 ? body.status ?? 'ok' : `http ${res.status}`;
      c.answers[key] = (c.answers[key] ?? 0) + 1;
      if (s.kind === 'early' && !s.resend && !s.twin) early.push(sleep(1500).then(() => this.publishEarlyClick(s, c)));
      opts.onProgress?.(++done);
    });
    await Promise.all(early);
  }

  /** The click event of an 'early' sale, as tracking would publish it, arriving after the conversion. */
  /**
   * With `redrive` set, published again as a re-drive does (the original id in Trackly-Event-Id, a Nats-Msg-Id of the
   * re-drive's own), for the scenarios that lose what a stream delivered: the driver plays tracking for these clicks.
   */
  async publishEarlyClick(s: Sale, c: Counters, redrive?: string): Promise<void> {
    const m = s.message!;
    const offer = `offer-${s.conversionId.split('-')[1]}`;
    const scenario = s.conversionId.split('-')[1];
    const click = {
      clickId: s.clickId, messageId: m.messageId, contactId: m.contactId, offerId: offer, campaignId: `camp-${scenario}`, creativeId: `cr-${scenario}`,
      clickedAt: new Date(new Date(s.occurredAt).getTime() - 60_000), firstClickOnMessage: true, userAgent: PHONE_UA, messageSentAt: m.sentAt,
      clickClass: ClickClass.CLICK_CLASS_HUMAN, classificationReason: 'fault suite: late click event', classifierVersion: 'faults',
    };
    const data = ClickRecorded.encode({ click }).finish();
    for (let attempt = 1; ; attempt++) {
      try {
        const id = `fault-early-click-${s.clickId}`;
        const h = natsHeaders();
        if (redrive) h.set(EVENT_ID_HEADER, id);
        await this.js.publish(Events.ClickRecorded.subject, data, { msgID: redrive ? `redrive:${redrive}:${id}` : id, headers: h, timeout: 5000 });
        c.earlyClickEvents++;
        return;
      } catch (e) {
        if (attempt > 120) throw e;
        await sleep(500); // NATS restarting (scenario d): publish again, the msg id makes it once
      }
    }
  }
}
