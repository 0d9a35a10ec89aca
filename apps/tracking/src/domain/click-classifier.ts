/**
 * Who fetched a tracked link. SMS links are fetched by link previews (iMessage, WhatsApp, Telegram...), crawlers
 * and security scanners, often seconds after delivery; only a person's tap is a click. The rules are data: an
 * ordered list, first match wins, with a version recorded on every hit so a change of rules is visible in the data.
 */

export type HitClass = 'HUMAN' | 'PREVIEW' | 'BOT';

/** Bump whenever RULES or the thresholds change; stored on every click. */
export const CLASSIFIER_VERSION = '2026-12-1';

/** What the edge knows about one hit. Header values are as sent ('' when absent). */
export interface Hit {
  method: string;
  userAgent: string;
  acceptLanguage: string;
  /** Purpose / Sec-Purpose / X-Purpose / X-Moz: browsers and apps announce prefetches and previews there. */
  purpose: string;
  at: Date;
  messageSentAt: Date;
  /** What the same client (see RepeatWindow) fetched recently, this hit included. */
  repeats: RepeatCounts;
}

/** One client's recent distinct links, as RepeatWindow counts them. */
export interface RepeatCounts {
  /** Distinct links fetched within the repeat window (a minute) sooner after their send than a person reads. */
  early: number;
  /** Distinct links fetched within the burst span (2 s). */
  burst: number;
}

export interface Thresholds {
  /** A hit this soon after the send with no Accept-Language is an OS/carrier preview, not a person. */
  previewWindowMs: number;
  /** Faster than anyone reads an SMS and taps: a preview whatever its headers say. */
  instantMs: number;
  /**
   * Distinct links one client may fetch early (each within readMs of its send) in the repeat window, or within
   * the burst span, before its hits are a scanner's (0 turns the rule off).
   */
  repeatCodes: number;
  /** Sooner after the send than this, a fetch is before most people have read the SMS ("early"). */
  readMs: number;
  /** The burst span: repeatCodes different links within it is a machine walking links, at any time after the send. */
  burstMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { previewWindowMs: 5_000, instantMs: 1_000, repeatCodes: 20, readMs: 5_000, burstMs: 2_000 };

export interface Classification {
  class: HitClass;
  /** Short, stable text, e.g. "user agent: iMessage/Facebook preview (facebookexternalhit)". */
  reason: string;
  version: string;
}

interface UaRule {
  class: HitClass;
  /** Who this is, for the reason text. */
  name: string;
  pattern: RegExp;
}

/**
 * User-agent rules, most specific first. Previews before crawlers: iMessage announces itself as
 * "facebookexternalhit/1.1 Facebot Twitterbot/1.0" and must read as a preview, not as the Facebook crawler.
 */
export const UA_RULES: readonly UaRule[] = [
  { class: 'PREVIEW', name: 'iMessage/Facebook preview', pattern: /facebookexternalhit|facebot|facebookcatalog/i },
  { class: 'PREVIEW', name: 'WhatsApp preview', pattern: /whatsapp\//i },
  { class: 'PREVIEW', name: 'Telegram preview', pattern: /telegrambot/i },
  { class: 'PREVIEW', name: 'Slack preview', pattern: /slackbot|slack-imgproxy/i },
  { class: 'PREVIEW', name: 'Discord preview', pattern: /discordbot/i },
  { class: 'PREVIEW', name: 'Skype/Teams preview', pattern: /skypeuripreview|microsoftpreview/i },
  { class: 'PREVIEW', name: 'LinkedIn preview', pattern: /linkedinbot/i },
  { class: 'PREVIEW', name: 'Twitter/X preview', pattern: /twitterbot/i },
  { class: 'PREVIEW', name: 'Viber preview', pattern: /\bviber\b/i },
  { class: 'PREVIEW', name: 'Snapchat preview', pattern: /snap url preview/i },
  { class: 'PREVIEW', name: 'Pinterest preview', pattern: /pinterest(bot)?\//i },
  { class: 'PREVIEW', name: 'Embed service', pattern: /embedly|iframely/i },
  { class: 'PREVIEW', name: 'link preview', pattern: /link ?preview|web ?preview|url ?preview/i },
  { class: 'BOT', name: 'security scanner (Proofpoint)', pattern: /proofpoint/i },
  { class: 'BOT', name: 'security scanner (Mimecast)', pattern: /mimecast/i },
  { class: 'BOT', name: 'security scanner (Barracuda)', pattern: /barracuda/i },
  {
    class: 'BOT',
    name: 'security scanner',
    pattern: /symantec|forcepoint|fortiguard|sophos|trend ?micro|zscaler|cisco-?talos|checkpoint|safelinks|urlscan|virustotal/i,
  },
  { class: 'BOT', name: 'search crawler (Google)', pattern: /googlebot|adsbot-google|mediapartners-google|google-inspectiontool|apis-google|storebot-google|googleother/i },
  { class: 'BOT', name: 'search crawler (Bing)', pattern: /bingbot|bingpreview|msnbot|adidxbot/i },
  { class: 'BOT', name: 'search crawler', pattern: /applebot|yandex(bot|images)|duckduckbot|baiduspider|petalbot|sogou|seznambot/i },
  { class: 'BOT', name: 'SEO/AI crawler', pattern: /ahrefsbot|semrushbot|mj12bot|dotbot|gptbot|chatgpt-user|claudebot|ccbot|bytespider|amazonbot/i },
  { class: 'BOT', name: 'headless browser', pattern: /headlesschrome|phantomjs|puppeteer|playwright|selenium|electron\/.*headless|chrome-lighthouse/i },
  {
    class: 'BOT',
    name: 'HTTP library',
    pattern: /^(curl|wget|python-requests|python-urllib|python-httpx|aiohttp|go-http-client|okhttp|java|apache-httpclient|axios|node-fetch|undici|got|libwww-perl|lwp|postmanruntime|insomnia|ruby|faraday|guzzlehttp|php|scrapy|httpie|reqwest|dart)[/ ]/i,
  },
  { class: 'BOT', name: 'uptime/link checker', pattern: /uptimerobot|pingdom|statuscake|site24x7|linkchecker|w3c_validator|check_http/i },
  // Last: anything calling itself a bot, crawler or spider that no rule above named.
  // "[a-z]bot/" and a bare word "bot", so a phone model such as "CUBOT P30" is not read as one.
  { class: 'BOT', name: 'self-declared bot', pattern: /\bbot\b|[a-z]bot\/|crawler|spider|scraper/i },
];

function ms(n: number): string {
  return n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`;
}

/**
 * The user-agent rules' verdict for one user agent (null: no rule names it). Memoised, because a blast's taps come
 * from a few dozen user agents and running every rule on each tap was the classifier's whole cost; the memo is
 * bounded (cleared when full), so it only ever saves work and never changes an answer.
 */
const uaVerdicts = new Map<string, { class: HitClass; reason: string } | null>();
const UA_MEMO_SIZE = 10_000;

function uaVerdict(ua: string): { class: HitClass; reason: string } | null {
  let v = uaVerdicts.get(ua);
  if (v !== undefined) return v;
  v = null;
  for (const rule of UA_RULES) {
    const m = rule.pattern.exec(ua);
    if (m) {
      v = { class: rule.class, reason: `user agent: ${rule.name} (${m[0].trim().replace(/[/ ]$/, '')})` };
      break;
    }
  }
  if (uaVerdicts.size >= UA_MEMO_SIZE) uaVerdicts.clear();
  uaVerdicts.set(ua, v);
  return v;
}

/**
 * How long after its send a hit must come for no rule to look at the send time: every timing rule above compares
 * `sinceSend` with one of these thresholds, so any hit at least this late gets the verdict it would get for any
 * earlier send. The click edge uses it to record a tap on a link it has not read yet in the same statement that reads
 * it (that statement writes the click only if the send is at least this old).
 */
export function sendTimeIrrelevantAfterMs(t: Thresholds = DEFAULT_THRESHOLDS): number {
  return Math.max(t.instantMs, t.previewWindowMs, t.readMs);
}

/** Classifies one hit; pure, so the same hit always gets the same answer under the same version. */
export function classifyHit(hit: Hit, t: Thresholds = DEFAULT_THRESHOLDS): Classification {
  const verdict = (cls: HitClass, reason: string): Classification => ({ class: cls, reason, version: CLASSIFIER_VERSION });
  const ua = hit.userAgent.trim();
  if (!ua) return verdict('BOT', 'empty user agent');
  const byUa = uaVerdict(ua);
  if (byUa) return verdict(byUa.class, byUa.reason);
  if (hit.method.toUpperCase() === 'HEAD') return verdict('BOT', 'HEAD request (link checker)');
  const purpose = hit.purpose.toLowerCase();
  if (/prefetch|prerender|preview/.test(purpose)) return verdict('PREVIEW', `prefetch announced (${purpose})`);
  if (t.repeatCodes > 0 && hit.repeats.burst >= t.repeatCodes) {
    return verdict('BOT', `same client fetched ${hit.repeats.burst} different links within ${ms(t.burstMs)}`);
  }
  const sinceSend = hit.at.getTime() - hit.messageSentAt.getTime();
  // Only an early hit itself: the client's later, human-paced hits (phones sharing its NAT address) stay people.
  if (t.repeatCodes > 0 && sinceSend >= 0 && sinceSend < t.readMs && hit.repeats.early >= t.repeatCodes) {
    return verdict('BOT', `same client fetched ${hit.repeats.early} different links within ${ms(t.readMs)} of their sends in a minute`);
  }
  // A negative delay is clock skew between the sender and us, not evidence either way.
  if (sinceSend >= 0 && sinceSend < t.instantMs) return verdict('PREVIEW', `fetched ${ms(sinceSend)} after the send, faster than a person taps`);
  // "*" is what HTTP libraries send by default (Node's fetch does); no browser a person uses sends it.
  const language = hit.acceptLanguage.trim();
  if (sinceSend >= 0 && sinceSend < t.previewWindowMs && (!language || language === '*')) {
    return verdict('PREVIEW', `fetched ${ms(sinceSend)} after the send without Accept-Language (preview profile)`);
  }
  return verdict('HUMAN', 'browser user agent');
}

/**
 * Remembers which links each client fetched recently, so scanners walking links can be told from people. A client is
 * what a scanner keeps constant and a phone shares with others behind a carrier NAT: address, user agent and
 * Accept-Language (the caller builds the key). Many phones behind one carrier address with one iPhone user agent
 * fetch many different links in a minute after a blast, so a plain count of links per client cannot separate them
 * from a scanner; what does is pace. People tap at human pace: seconds at least after the SMS arrives, spread over
 * minutes, so a client's fetches soon after their sends and its fetches within a couple of seconds stay few however
 * many phones share it. A scanner fetches each link as the SMS is delivered (early) or walks links back to back (a
 * burst). RepeatWindow counts both for each hit; the thresholds are the classifier's.
 *
 * Bounded: at most maxClients clients (the least recently seen is forgotten first) and maxCodesPerClient links each,
 * kept at most windowMs.
 */
export class RepeatWindow {
  private readonly clients = new Map<string, ClientLinks>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly readMs = DEFAULT_THRESHOLDS.readMs,
    private readonly burstMs = DEFAULT_THRESHOLDS.burstMs,
    private readonly maxClients = 50_000,
    private readonly maxCodesPerClient = 256,
  ) {}

  /**
   * Records a hit on `code` at `at`, `sinceSendMs` after its message was sent, and returns the client's counts,
   * this hit included. A link fetched again counts once, at its latest fetch.
   */
  record(clientKey: string, code: string, at: Date, sinceSendMs: number): RepeatCounts {
    const now = at.getTime();
    let c = this.clients.get(clientKey);
    if (c) this.clients.delete(clientKey);
    else c = { links: new Map(), early: 0 };
    this.clients.set(clientKey, c); // re-inserted: Map order is recency order
    const links = c.links;
    const before = links.get(code);
    if (before) {
      links.delete(code);
      if (before.early) c.early--;
    }
    const early = sinceSendMs >= 0 && sinceSendMs < this.readMs;
    links.set(code, { at: now, early });
    if (early) c.early++;
    // Oldest first (Map insertion order): drop what left the window or overflows the bound.
    for (const [k, v] of links) {
      if (now - v.at < this.windowMs && links.size <= this.maxCodesPerClient) break;
      links.delete(k);
      if (v.early) c.early--;
    }
    let burst = 0;
    for (const v of links.values()) if (now - v.at < this.burstMs) burst++;
    while (this.clients.size > this.maxClients) this.clients.delete(this.clients.keys().next().value as string);
    return { early: c.early, burst };
  }

  /**
   * Takes back a hit recorded on a code that turned out not to exist (the click edge records a tap before its one
   * statement tells whether the link is real), so guessed codes never count as links a client fetched.
   */
  forget(clientKey: string, code: string): void {
    const c = this.clients.get(clientKey);
    const before = c?.links.get(code);
    if (!c || !before) return;
    c.links.delete(code);
    if (before.early) c.early--;
  }

  get size(): number {
    return this.clients.size;
  }
}

interface ClientLinks {
  /** Link -> when it was last fetched and whether that was early; in fetch order. */
  links: Map<string, { at: number; early: boolean }>;
  /** How many of `links` were fetched early. */
  early: number;
}
