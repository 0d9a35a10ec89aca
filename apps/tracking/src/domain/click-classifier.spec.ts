import { CLASSIFIER_VERSION, classifyHit, DEFAULT_THRESHOLDS, Hit, HitClass, RepeatWindow, sendTimeIrrelevantAfterMs } from './click-classifier';

const SENT = new Date('2026-11-02T10:00:00Z');
const LATER = new Date('2026-11-02T10:03:00Z'); // three minutes after the send: no timing rule applies

function hit(userAgent: string, over: Partial<Hit> = {}): Hit {
  return {
    method: 'GET',
    userAgent,
    acceptLanguage: 'en-US,en;q=0.9',
    purpose: '',
    at: LATER,
    messageSentAt: SENT,
    repeats: { early: 0, burst: 1 },
    ...over,
  };
}

// Real user-agent strings as the clients send them.
const CASES: [string, HitClass, RegExp][] = [
  // People: phone and desktop browsers, in-app browsers.
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1', 'HUMAN', /browser/],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15', 'HUMAN', /browser/],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.33.117;FBBV/537046522]', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36', 'HUMAN', /browser/],
  ['Mozilla/5.0 (Linux; Android 12; moto g stylus 5G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Mobile Safari/537.36', 'HUMAN', /browser/],
  // Link previews of messaging apps.
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0', 'PREVIEW', /iMessage.*facebookexternalhit/],
  ['facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', 'PREVIEW', /facebookexternalhit/],
  ['WhatsApp/2.23.20.0 A', 'PREVIEW', /WhatsApp preview/],
  ['WhatsApp/2.2329.9 i', 'PREVIEW', /WhatsApp preview/],
  ['WhatsApp/2.21.12.21 W', 'PREVIEW', /WhatsApp preview/],
  ['TelegramBot (like TwitterBot)', 'PREVIEW', /Telegram preview/],
  ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'PREVIEW', /Slack preview/],
  ['Slack-ImgProxy (+https://api.slack.com/robots)', 'PREVIEW', /Slack preview/],
  ['Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', 'PREVIEW', /Discord preview/],
  ['Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com', 'PREVIEW', /Skype\/Teams preview/],
  ['LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)', 'PREVIEW', /LinkedIn preview/],
  ['Twitterbot/1.0', 'PREVIEW', /Twitter\/X preview/],
  ['Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)', 'PREVIEW', /Embed service/],
  ['Viber/20.3.0.1 CFNetwork/1408.0.4 Darwin/22.5.0', 'PREVIEW', /Viber preview/],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/105.0.0.0 Safari/537.36 Snap URL Preview Service; bot; snapchat; https://developers.snap.com/robots', 'PREVIEW', /Snapchat preview/],
  ['Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)', 'PREVIEW', /Pinterest preview/],
  // Crawlers.
  ['Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'BOT', /Google/],
  ['Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.199 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', 'BOT', /Google/],
  ['AdsBot-Google (+http://www.google.com/adsbot.html)', 'BOT', /Google/],
  ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'BOT', /Bing/],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)', 'BOT', /search crawler/],
  ['Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', 'BOT', /search crawler/],
  ['Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)', 'BOT', /SEO/],
  ['Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)', 'BOT', /AI crawler/],
  // Tools and libraries.
  ['curl/8.4.0', 'BOT', /HTTP library \(curl\)/],
  ['Wget/1.21.4', 'BOT', /HTTP library/],
  ['python-requests/2.31.0', 'BOT', /HTTP library/],
  ['Python-urllib/3.11', 'BOT', /HTTP library/],
  ['Go-http-client/1.1', 'BOT', /HTTP library/],
  ['Go-http-client/2.0', 'BOT', /HTTP library/],
  ['okhttp/4.12.0', 'BOT', /HTTP library/],
  ['Java/17.0.9', 'BOT', /HTTP library/],
  ['Apache-HttpClient/4.5.14 (Java/17.0.8)', 'BOT', /HTTP library/],
  ['axios/1.6.2', 'BOT', /HTTP library/],
  ['node-fetch/1.0 (+https://github.com/bitinn/node-fetch)', 'BOT', /HTTP library/],
  ['PostmanRuntime/7.35.0', 'BOT', /HTTP library/],
  ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/119.0.6045.105 Safari/537.36', 'BOT', /headless/],
  ['Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse', 'BOT', /headless/],
  // Mail and SMS security scanners.
  ['Proofpoint URL Defense', 'BOT', /Proofpoint/],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) Mimecast-URL-Protect/1.0', 'BOT', /Mimecast/],
  ['Barracuda Sentinel (EE)', 'BOT', /Barracuda/],
  ['Mozilla/5.0 (compatible; urlscan.io; +https://urlscan.io)', 'BOT', /security scanner/],
  ['Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)', 'BOT', /uptime/],
  ['Mozilla/5.0 (compatible; SomeNewCrawler/1.0; +https://example.net/crawler)', 'BOT', /self-declared/],
  ['', 'BOT', /empty user agent/],
  ['   ', 'BOT', /empty user agent/],
];

const IPHONE_UA = CASES[0][0];

describe('classifyHit: user agents', () => {
  it('has a corpus of at least 40 real user agents', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it('answers the same for a user agent seen before (the user-agent verdicts are memoised)', () => {
    const first = CASES.map(([ua]) => classifyHit(hit(ua)));
    const again = [...CASES].reverse().map(([ua]) => classifyHit(hit(ua))).reverse();
    expect(again).toEqual(first);
    // Timing and method still apply to a memoised browser user agent.
    expect(classifyHit(hit(IPHONE_UA, { method: 'HEAD' })).class).toBe('BOT');
    expect(classifyHit(hit(IPHONE_UA, { at: new Date(SENT.getTime() + 400) })).class).toBe('PREVIEW');
  });

  it.each(CASES)('%p is %s', (ua, expected, reason) => {
    const c = classifyHit(hit(ua));
    expect(c.class).toBe(expected);
    expect(c.reason).toMatch(reason);
    expect(c.version).toBe(CLASSIFIER_VERSION);
  });
});

const IPHONE = CASES[0][0];

describe('classifyHit: method, prefetch, timing and repeats', () => {
  it('treats HEAD from a browser user agent as a link checker', () => {
    expect(classifyHit(hit(IPHONE, { method: 'HEAD' }))).toMatchObject({ class: 'BOT', reason: 'HEAD request (link checker)' });
  });

  it('names the preview app even on HEAD', () => {
    expect(classifyHit(hit('WhatsApp/2.23.20.0 A', { method: 'HEAD' })).class).toBe('PREVIEW');
  });

  it.each(['prefetch', 'Prefetch', 'prefetch;prerender', 'preview'])('announced prefetch %p is a preview', (purpose) => {
    const c = classifyHit(hit(IPHONE, { purpose }));
    expect(c.class).toBe('PREVIEW');
    expect(c.reason).toContain('prefetch announced');
  });

  it('reads a browser hit within a second of the send as a preview', () => {
    const c = classifyHit(hit(IPHONE, { at: new Date(SENT.getTime() + 400) }));
    expect(c).toMatchObject({ class: 'PREVIEW', reason: 'fetched 400 ms after the send, faster than a person taps' });
  });

  it('reads a hit seconds after delivery without Accept-Language as a preview, with it as a person', () => {
    const at = new Date(SENT.getTime() + 3_200);
    expect(classifyHit(hit(IPHONE, { at, acceptLanguage: '' }))).toMatchObject({
      class: 'PREVIEW',
      reason: 'fetched 3.2 s after the send without Accept-Language (preview profile)',
    });
    expect(classifyHit(hit(IPHONE, { at, acceptLanguage: '*' })).class).toBe('PREVIEW');
    expect(classifyHit(hit(IPHONE, { at })).class).toBe('HUMAN');
  });

  it('stops applying the timing rule at the window edge', () => {
    const at = new Date(SENT.getTime() + DEFAULT_THRESHOLDS.previewWindowMs);
    expect(classifyHit(hit(IPHONE, { at, acceptLanguage: '' })).class).toBe('HUMAN');
  });

  it('ignores a click stamped before the send (clock skew), rather than calling it instant', () => {
    expect(classifyHit(hit(IPHONE, { at: new Date(SENT.getTime() - 2_000), acceptLanguage: '' })).class).toBe('HUMAN');
  });

  it('calls a client a bot once it fetched 20 different links in a 2 s burst, or 20 early ones in a minute; 0 turns it off', () => {
    const burst = hit(IPHONE, { repeats: { early: 0, burst: 20 } });
    expect(classifyHit(burst)).toMatchObject({ class: 'BOT', reason: 'same client fetched 20 different links within 2.0 s' });
    const early = hit(IPHONE, { at: new Date(SENT.getTime() + 3_000), repeats: { early: 20, burst: 1 } });
    expect(classifyHit(early)).toMatchObject({ class: 'BOT', reason: 'same client fetched 20 different links within 5.0 s of their sends in a minute' });
    // Only the early hits themselves: the same client's human-paced tap (a phone sharing a carrier address) is a person.
    expect(classifyHit(hit(IPHONE, { repeats: { early: 25, burst: 1 } })).class).toBe('HUMAN');
    expect(classifyHit(hit(IPHONE, { at: new Date(SENT.getTime() + 3_000), repeats: { early: 19, burst: 19 } })).class).toBe('HUMAN');
    expect(classifyHit(burst, { ...DEFAULT_THRESHOLDS, repeatCodes: 0 }).class).toBe('HUMAN');
    expect(classifyHit(early, { ...DEFAULT_THRESHOLDS, repeatCodes: 0 }).class).toBe('HUMAN');
  });

  it('lets the user agent rule win over timing, so the reason names the app', () => {
    const c = classifyHit(hit(CASES[10][0], { at: new Date(SENT.getTime() + 800) }));
    expect(c.reason).toMatch(/facebookexternalhit/);
  });
});

describe('sendTimeIrrelevantAfterMs', () => {
  it('is an age past which no hit changes verdict with its send time', () => {
    const after = sendTimeIrrelevantAfterMs(DEFAULT_THRESHOLDS);
    const at = new Date('2026-11-02T10:00:00Z');
    const kinds: Pick<Hit, 'userAgent' | 'acceptLanguage' | 'repeats'>[] = [
      { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) Safari/604.1', acceptLanguage: 'en-US', repeats: { early: 0, burst: 0 } },
      { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) Safari/604.1', acceptLanguage: '', repeats: { early: 0, burst: 0 } },
      { userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) Safari/604.1', acceptLanguage: 'en-US', repeats: { early: 25, burst: 0 } },
    ];
    for (const k of kinds) {
      const verdict = (sinceSendMs: number) => classifyHit({ ...k, method: 'GET', purpose: '', at, messageSentAt: new Date(at.getTime() - sinceSendMs) }).class;
      for (const later of [after, after + 1, after * 3, 86_400_000]) expect(verdict(later)).toBe(verdict(after));
    }
    const early = (ms: number) =>
      classifyHit({ ...kinds[1], method: 'GET', purpose: '', at, messageSentAt: new Date(at.getTime() - ms) }).class;
    expect(early(after - 1)).toBe('PREVIEW');
    expect(early(after)).toBe('HUMAN');
  });
});

describe('RepeatWindow', () => {
  const t0 = new Date('2026-11-02T10:00:00Z').getTime();
  const at = (ms: number) => new Date(t0 + ms);
  const LATE = 600_000; // sent ten minutes before: never early

  it('counts distinct links per client, not repeated hits on one link', () => {
    const w = new RepeatWindow();
    expect(w.record('ip|ua|en', 'A', at(0), LATE)).toEqual({ early: 0, burst: 1 });
    expect(w.record('ip|ua|en', 'A', at(10), LATE)).toEqual({ early: 0, burst: 1 });
    expect(w.record('ip|ua|en', 'B', at(20), LATE)).toEqual({ early: 0, burst: 2 });
    expect(w.record('other|ua|en', 'A', at(30), LATE)).toEqual({ early: 0, burst: 1 });
  });

  it('counts a link as early when fetched within readMs of its send, and a refetch once, at its latest fetch', () => {
    const w = new RepeatWindow(60_000, 10_000, 2_000);
    expect(w.record('k', 'A', at(0), 3_000)).toEqual({ early: 1, burst: 1 });
    expect(w.record('k', 'B', at(5_000), 9_999)).toEqual({ early: 2, burst: 1 });
    expect(w.record('k', 'C', at(6_000), 10_000)).toEqual({ early: 2, burst: 2 }); // at the edge: read by then
    expect(w.record('k', 'D', at(7_000), -5_000)).toEqual({ early: 2, burst: 2 }); // clock skew is no evidence
    // A again, now late; C (exactly 2 s old) has left the burst span.
    expect(w.record('k', 'A', at(8_000), 11_000)).toEqual({ early: 1, burst: 2 });
  });

  it('forgets links older than the window and keeps the burst to the last burstMs', () => {
    const w = new RepeatWindow(1_000, 10_000, 300);
    w.record('k', 'A', at(0), 0);
    w.record('k', 'B', at(500), 0);
    expect(w.record('k', 'C', at(1_200), 0)).toEqual({ early: 2, burst: 1 }); // A expired; B is 700 ms old
    expect(w.record('k', 'D', at(5_000), 0)).toEqual({ early: 1, burst: 1 });
  });

  it('takes back a hit on a code that turned out not to exist, leaving the other links as they were', () => {
    const w = new RepeatWindow(60_000, 10_000, 2_000);
    w.record('k', 'A', at(0), 3_000);
    w.record('k', 'junk', at(10), 3_000);
    w.forget('k', 'junk');
    w.forget('k', 'never-seen');
    w.forget('other', 'A');
    expect(w.record('k', 'B', at(20), LATE)).toEqual({ early: 1, burst: 2 });
  });

  it('stays bounded in clients and in links per client', () => {
    const w = new RepeatWindow(60_000, 10_000, 2_000, 3, 4);
    for (let i = 0; i < 10; i++) w.record(`client-${i}`, 'A', at(i), LATE);
    expect(w.size).toBe(3);
    expect(w.record('client-0', 'A', at(20), LATE).burst).toBe(1); // forgotten, so counted afresh
    for (let i = 0; i < 10; i++) w.record('busy', `code-${i}`, at(30 + i), 0);
    expect(w.record('busy', 'code-x', at(50), 0)).toEqual({ early: 4, burst: 4 });
  });
});

/**
 * Issue 16, item 10: a blast's taps behind carrier NAT. Many phones share a carrier address and an iPhone user agent
 * (and, here, the same Accept-Language: the worst case); they tap at human pace. Scanners fetch as the SMS arrives or
 * walk links back to back. Hits are classified in time order through the real RepeatWindow and classifyHit.
 */
describe('carrier NAT: 1,000 phones behind 5 addresses with 3 user agents, and scanners among them', () => {
  const UAS = [
    IPHONE,
    'Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1',
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.6045.163 Mobile Safari/537.36',
  ];
  const ADDRESSES = ['100.64.0.1', '100.64.0.2', '100.64.0.3', '100.64.0.4', '100.64.0.5'];
  const LANGUAGE = 'en-US,en;q=0.9';

  /** mulberry32: the same taps on every run. */
  function rng(seed: number) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
  }

  interface Tap {
    who: string;
    ip: string;
    ua: string;
    language: string;
    code: string;
    /** When the tapped link's message was sent. */
    sent: number;
    at: number;
  }

  /** 1,000 phones, one message each, all sent at SENT; each taps once 2-60 s later (reading takes a moment). */
  function blastTaps(seed: number): Tap[] {
    const r = rng(seed);
    return Array.from({ length: 1000 }, (_, i) => ({
      who: 'phone',
      ip: ADDRESSES[Math.floor(r() * ADDRESSES.length)],
      ua: UAS[Math.floor(r() * UAS.length)],
      language: LANGUAGE,
      code: `phone-${i}`,
      sent: SENT.getTime(),
      at: SENT.getTime() + 2_000 + Math.floor(r() * 58_000),
    }));
  }

  function classifyAll(taps: Tap[]) {
    const w = new RepeatWindow();
    return [...taps]
      .sort((a, b) => a.at - b.at)
      .map((t) => {
        const at = new Date(t.at);
        const repeats = w.record(`${t.ip}|${t.ua}|${t.language}`, t.code, at, t.at - t.sent);
        return { tap: t, c: classifyHit({ method: 'GET', userAgent: t.ua, acceptLanguage: t.language, purpose: '', at, messageSentAt: new Date(t.sent), repeats }) };
      });
  }

  const humanShare = (results: ReturnType<typeof classifyAll>, who: string) => {
    const mine = results.filter((x) => x.tap.who === who);
    return mine.filter((x) => x.c.class === 'HUMAN').length / mine.length;
  };

  it.each([1, 2, 3, 4, 5])('keeps at least 99%% of the phones HUMAN (seed %i)', (seed) => {
    const taps = blastTaps(seed);
    // The shape of the test: 15 clients (address + user agent), each with ~67 different links in the minute.
    const perClient = new Map<string, number>();
    for (const t of taps) perClient.set(`${t.ip}|${t.ua}`, (perClient.get(`${t.ip}|${t.ua}`) ?? 0) + 1);
    expect(perClient.size).toBe(15);
    expect(Math.min(...perClient.values())).toBeGreaterThan(DEFAULT_THRESHOLDS.repeatCodes);
    expect(humanShare(classifyAll(taps), 'phone')).toBeGreaterThanOrEqual(0.99);
  });

  it('the rule it replaces (20 links a minute per address + user agent) would have called most of them bots', () => {
    const w = new RepeatWindow(60_000, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER); // every fetch early
    const taps = blastTaps(1).sort((a, b) => a.at - b.at);
    const bots = taps.filter((t) => w.record(`${t.ip}|${t.ua}`, t.code, new Date(t.at), 0).early >= 20).length;
    expect(bots / taps.length).toBeGreaterThan(0.5);
  });

  it('catches a scanner fetching each link as its SMS is delivered, sharing a carrier address and user agent', () => {
    // A browser user agent and its own Accept-Language; the blast reaches it one message every 1.5 s and it fetches
    // each link 1-3 s after that message's send, before anyone could have read it.
    const scanner: Tap[] = Array.from({ length: 40 }, (_, i) => {
      const sent = SENT.getTime() + i * 1_500;
      return { who: 'scanner', ip: ADDRESSES[0], ua: UAS[0], language: 'en-US', code: `scan-${i}`, sent, at: sent + 1_000 + (i % 3) * 1_000 };
    });
    const results = classifyAll([...blastTaps(7), ...scanner]);
    const scanned = results.filter((x) => x.tap.who === 'scanner').map((x) => x.c);
    expect(scanned.slice(0, 19).every((c) => c.class === 'HUMAN')).toBe(true);
    expect(scanned.slice(19).every((c) => c.class === 'BOT' && /within 5\.0 s of their sends/.test(c.reason))).toBe(true);
    expect(humanShare(results, 'phone')).toBeGreaterThanOrEqual(0.99);
  });

  it('catches a crawler walking links back to back long after the blast, behind a carrier address', () => {
    // Links of an earlier blast (sent a day before), 30 of them 60 ms apart, with the phones' very headers.
    const crawler: Tap[] = Array.from({ length: 30 }, (_, i) => ({
      who: 'crawler', ip: ADDRESSES[2], ua: UAS[2], language: LANGUAGE, code: `old-${i}`, sent: SENT.getTime() - 86_400_000, at: SENT.getTime() + 45_000 + i * 60,
    }));
    const results = classifyAll([...blastTaps(9), ...crawler]);
    const crawled = results.filter((x) => x.tap.who === 'crawler').map((x) => x.c);
    // From its 20th link on (phones sharing its client may add to the burst and bring that earlier).
    expect(crawled.slice(19).every((c) => c.class === 'BOT' && /within 2\.0 s/.test(c.reason))).toBe(true);
    expect(crawled.slice(0, 15).every((c) => c.class === 'HUMAN')).toBe(true);
  });

  it('still reads link previews and announced prefetches of the blast as previews', () => {
    const results = classifyAll(blastTaps(11));
    expect(results.every((x) => x.c.class !== 'PREVIEW')).toBe(true);
    const w = new RepeatWindow();
    const preview = (ua: string, ms: number, language = '', purpose = '') =>
      classifyHit({
        method: 'GET', userAgent: ua, acceptLanguage: language, purpose, at: new Date(SENT.getTime() + ms), messageSentAt: SENT,
        repeats: w.record(`${ADDRESSES[0]}|${ua}|${language}`, `p-${ms}`, new Date(SENT.getTime() + ms), ms),
      }).class;
    expect(preview(CASES[10][0], 2_000)).toBe('PREVIEW'); // iMessage
    expect(preview('WhatsApp/2.23.20.0 A', 3_000)).toBe('PREVIEW');
    expect(preview(IPHONE, 400, LANGUAGE)).toBe('PREVIEW'); // faster than a person taps
    expect(preview(IPHONE, 3_000)).toBe('PREVIEW'); // preview profile: no Accept-Language
    expect(preview(IPHONE, 30_000, LANGUAGE, 'prefetch')).toBe('PREVIEW');
  });
});
