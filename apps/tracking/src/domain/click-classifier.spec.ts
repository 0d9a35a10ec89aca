import { CLASSIFIER_VERSION, classifyHit, DEFAULT_THRESHOLDS, Hit, HitClass, RepeatWindow } from './click-classifier';

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
    distinctCodesFromClient: 1,
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

describe('classifyHit: user agents', () => {
  it('has a corpus of at least 40 real user agents', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
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

  it('calls one client fetching many different links a bot, and can be turned off', () => {
    const many = hit(IPHONE, { distinctCodesFromClient: 20 });
    expect(classifyHit(many)).toMatchObject({ class: 'BOT', reason: expect.stringContaining('fetched 20 different links') });
    expect(classifyHit(hit(IPHONE, { distinctCodesFromClient: 19 })).class).toBe('HUMAN');
    expect(classifyHit(many, { ...DEFAULT_THRESHOLDS, repeatCodes: 0 }).class).toBe('HUMAN');
  });

  it('lets the user agent rule win over timing, so the reason names the app', () => {
    const c = classifyHit(hit(CASES[10][0], { at: new Date(SENT.getTime() + 800) }));
    expect(c.reason).toMatch(/facebookexternalhit/);
  });
});

describe('RepeatWindow', () => {
  const t0 = new Date('2026-11-02T10:00:00Z').getTime();
  const at = (ms: number) => new Date(t0 + ms);

  it('counts distinct codes per client, not repeated hits on one code', () => {
    const w = new RepeatWindow(60_000);
    expect(w.record('ip|ua', 'A', at(0))).toBe(1);
    expect(w.record('ip|ua', 'A', at(10))).toBe(1);
    expect(w.record('ip|ua', 'B', at(20))).toBe(2);
    expect(w.record('other|ua', 'A', at(30))).toBe(1);
  });

  it('forgets codes older than the window', () => {
    const w = new RepeatWindow(1_000);
    w.record('k', 'A', at(0));
    w.record('k', 'B', at(500));
    expect(w.record('k', 'C', at(1_200))).toBe(2); // A expired, B and C remain
    expect(w.record('k', 'D', at(5_000))).toBe(1);
  });

  it('stays bounded in clients and in codes per client', () => {
    const w = new RepeatWindow(60_000, 3, 4);
    for (let i = 0; i < 10; i++) w.record(`client-${i}`, 'A', at(i));
    expect(w.size).toBe(3);
    expect(w.record('client-0', 'A', at(20))).toBe(1); // forgotten, so counted afresh
    for (let i = 0; i < 10; i++) w.record('busy', `code-${i}`, at(30 + i));
    expect(w.record('busy', 'code-x', at(50))).toBe(4);
  });
});
