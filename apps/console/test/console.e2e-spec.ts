import { readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually } from '@trackly/testing';
import { ADMIN_KEY, READER_KEY, Stack, startStack } from './stack';
import { ARTEFACTS, axeViolations, launchChromium, shot } from './browser';
import { verify } from '../../delivery/src/domain/webhook-signing';

/**
 * The console in headless Chromium against the real stack (six apps, real Postgres and NATS, data seeded through
 * the public interfaces): every screen renders with data and passes axe-core without serious or critical
 * violations; the partner manager's journey (create a partner, copy its TUNE template, send a test postback, find it
 * under Conversions, open its explanation); an offer's window edited and re-attribution's dry-run diff; a CSV upload
 * with a bad row; a webhook endpoint added (secret shown once), a credited conversion delivered to a receiver that
 * verifies its signature, then redelivered from the log under the same id. Screenshots of each screen go to dist/console-e2e/.
 */
describe('console (headless Chromium, real stack)', () => {
  jest.setTimeout(90_000);
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const failedRequests: string[] = [];
  const consoleErrors: string[] = [];
  const measured: Record<string, number | string> = {};

  beforeAll(async () => {
    browser = await launchChromium();
    stack = await startStack();
    context = await browser.newContext({ viewport: { width: 1366, height: 900 }, acceptDownloads: true, timezoneId: 'UTC', locale: 'en-US' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.gatewayHttp });
    page = await context.newPage();
    // Shorter than Jest's own timeout, so a missing element names itself.
    page.setDefaultTimeout(15_000);
    // A request cancelled by leaving its page is not a failure.
    page.on('requestfailed', (r) => r.failure()?.errorText !== 'net::ERR_ABORTED' && failedRequests.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    page.on('console', (m) => m.type() === 'error' && !/status of (4\d\d|501)/.test(m.text()) && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 180_000);

  afterAll(async () => {
    writeFileSync(path.join(ARTEFACTS, 'measurements.json'), JSON.stringify(measured, null, 2));
    await browser?.close();
    await stack?.stop();
    receiver.closeAllConnections();
    receiver.close();
  });

  // A customer's webhook receiver: keeps what verifies against the secret the console showed, refuses the rest.
  const hooks: { id: string; body: { type: string; data: { conversion_id: string } } }[] = [];
  let hookSecret = '';
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const h = { id: String(req.headers['webhook-id']), timestamp: String(req.headers['webhook-timestamp']), signature: String(req.headers['webhook-signature']) };
      if (!verify(hookSecret, h, body, Math.floor(Date.now() / 1000)).ok) return void res.writeHead(401).end();
      hooks.push({ id: h.id, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });

  const base = () => stack.gatewayHttp;
  const range = () => `from=${stack.seed.sendDay}&to=${stack.seed.today}&tz=UTC`;
  const main = () => page.locator('main');
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });
  async function accessible(name: string) {
    expect([name, await axeViolations(page)]).toEqual([name, []]);
    await shot(page, name);
  }

  it('asks for an API key, then shows what the key may do and the overview with the seeded figures', async () => {
    await page.goto(`${base()}/?${range()}`);
    await heading('Sign in with an API key').waitFor();
    await accessible('00-sign-in');
    await page.getByLabel('API key', { exact: true }).fill(ADMIN_KEY);
    const started = Date.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    const kpis = page.getByRole('list', { name: 'Key figures' });
    await kpis.waitFor();
    measured.signInToOverviewMs = Date.now() - started;
    // 3 sends, 2 engagements (ana tapped twice: one engagement), CTR 66.67%, one conversion of $24.99.
    const tile = (label: string) => kpis.locator('li', { has: page.locator('.kpi-label', { hasText: new RegExp(`^${label.replace(/[()/]/g, '\\$&')}$`) }) }).locator('.kpi-value');
    expect(await tile('Sends').textContent()).toBe('3');
    expect(await tile('Engagements').textContent()).toBe('2');
    expect(await tile('CTR').textContent()).toBe('66.67%');
    expect(await tile('Conversions').textContent()).toBe('1');
    expect(await tile('Approved revenue (USD)').textContent()).toBe('$24.99');
    expect(await tile('Approved revenue (USD)').locator('span').getAttribute('title')).toBe('24.99 USD');
    expect(await tile('EPC (USD)').textContent()).toBe('$12.50');
    // The series: one point per day of the range, zeros included, and the metric picker.
    const canvas = page.getByRole('img', { name: /Sends per day/ });
    expect(Number(await canvas.getAttribute('data-points'))).toBe(11);
    await page.getByLabel('Metric', { exact: true }).selectOption({ label: 'Approved revenue (USD)' });
    await page.getByRole('img', { name: /Approved revenue \(USD\) per day/ }).waitFor();
    await page.getByText('The numbers').click();
    expect(await main().locator('details table tbody tr').count()).toBe(11);
    await page.getByText('The numbers').click();
    // What the key may do, one click away.
    await page.getByText('Key: console-admin').click();
    await page.locator('.key-panel').getByText('operations:write').waitFor();
    await page.getByText('Key: console-admin').click();
    await accessible('01-overview');
  });

  it('measures the first load of the console (cold cache: page, scripts, key check, the overview with data), for the report', async () => {
    // A new context: an empty cache, as a person opening the console for the first time.
    const cold = await browser.newContext({ viewport: { width: 1366, height: 900 }, timezoneId: 'UTC', locale: 'en-US' });
    // The key is in the tab already (set before the page's own scripts run), as after signing in.
    await cold.addInitScript(`sessionStorage.setItem('trackly.apiKey', ${JSON.stringify(ADMIN_KEY)})`);
    const fresh = await cold.newPage();
    try {
      const started = Date.now();
      await fresh.goto(`${base()}/?${range()}`);
      await fresh.getByRole('list', { name: 'Key figures' }).waitFor();
      measured.firstLoadToDataMs = Date.now() - started;
      const timing = JSON.parse(
        (await fresh.evaluate(
          `JSON.stringify({ nav: performance.getEntriesByType('navigation')[0], paint: performance.getEntriesByType('paint'), resources: performance.getEntriesByType('resource').map((r) => ({ name: r.name, bytes: r.encodedBodySize, start: r.startTime, end: r.responseEnd })) })`,
        )) as string,
      ) as { nav: { responseEnd: number; domContentLoadedEventEnd: number; loadEventEnd: number }; paint: { name: string; startTime: number }[]; resources: { name: string; bytes: number; start: number; end: number }[] };
      measured.htmlResponseEndMs = Math.round(timing.nav.responseEnd);
      measured.domContentLoadedMs = Math.round(timing.nav.domContentLoadedEventEnd);
      measured.loadEventMs = Math.round(timing.nav.loadEventEnd);
      measured.firstContentfulPaintMs = Math.round(timing.paint.find((p) => p.name === 'first-contentful-paint')?.startTime ?? -1);
      measured.firstLoadScriptBytesGzip = timing.resources.filter((r) => r.name.endsWith('.js')).reduce((s, r) => s + r.bytes, 0);
      // When each API answer arrived (ms since navigation start), to see where the time goes.
      for (const r of timing.resources.filter((x) => x.name.includes('/api/'))) {
        const u = new URL(r.name);
        measured[`${u.pathname}${u.search ? '?…' : ''} ${u.searchParams.get('from') ?? ''}`.trim()] = `${Math.round(r.start)}–${Math.round(r.end)} ms`;
      }
    } finally {
      await cold.close();
    }
    expect(measured.firstLoadScriptBytesGzip).toBeGreaterThan(0);
  });

  it('Performance: groups, then-by, sorts, pages, chooses columns, filters in the API, and downloads the CSV of what is shown', async () => {
    await page.getByRole('link', { name: 'Performance' }).click();
    await heading('Performance').waitFor();
    const table = page.getByTestId('performance');
    await table.locator('tbody tr').first().waitFor();
    const rows = () => table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(await rows()).toEqual([
      ['Spring 20% off (cr-20off)', '2', '1', '50.00%', '1', '100.00%', '$24.99', '$12.50', '$24.99'],
      ['Free shipping (cr-ship)', '1', '1', '100.00%', '0', '0.00%', '–', '–', '–'],
    ]);
    expect(await table.locator('tfoot td').allTextContents()).toEqual(['Total', '3', '2', '66.67%', '1', '50.00%', '$24.99', '$8.33', '$12.50']);
    // Sorting by sends, ascending then descending.
    await table.getByRole('button', { name: /^Sends/ }).click();
    expect((await rows()).map((r) => r[0])).toEqual(['Spring 20% off (cr-20off)', 'Free shipping (cr-ship)']);
    expect(await table.locator('th[aria-sort]').getAttribute('aria-sort')).toBe('descending');
    await table.getByRole('button', { name: /^Sends/ }).click();
    expect((await rows()).map((r) => r[0])).toEqual(['Free shipping (cr-ship)', 'Spring 20% off (cr-20off)']);
    // The column chooser: taps shown, EPC hidden.
    await table.locator('summary', { hasText: /^Columns/ }).click();
    await table.getByLabel('Taps', { exact: true }).check();
    await table.getByLabel('EPC', { exact: true }).uncheck();
    await table.locator('summary', { hasText: /^Columns/ }).click();
    expect(await table.locator('thead th').allTextContents()).toEqual(['Creative ↕', 'Sends ▲', 'Engagements ↕', 'Taps ↕', 'CTR ↕', 'Conversions ↕', 'CVR ↕', 'Approved revenue ↕', 'Revenue / send ↕']);
    // The CSV is exactly the table: visible columns, this order, exact values.
    const [download] = await Promise.all([page.waitForEvent('download'), table.getByRole('button', { name: /Download CSV/ }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8').split('\r\n');
    expect(csv).toEqual([
      'Creative,Sends,Engagements,Taps,CTR,Conversions,CVR,Approved revenue,Revenue / send',
      'Free shipping (cr-ship),1,1,1,1.00,0,0.00,,',
      'Spring 20% off (cr-20off),2,1,2,0.50,1,1.00,24.99,12.495',
      'TOTAL,3,2,3,0.666667,1,0.50,24.99,8.33',
      '',
    ]);
    // Then by date, filtered by campaign in the API.
    await page.getByLabel('Then by', { exact: true }).selectOption('date');
    await page.getByLabel('Campaign ids', { exact: true }).fill('camp-spring');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await table.locator('thead th', { hasText: 'Date' }).waitFor();
    // Sends and taps on the send day, the conversion on its own day (conversion date basis).
    expect(new Set((await rows()).map((r) => r[1]))).toEqual(new Set([stack.seed.sendDay, stack.seed.today]));
    await accessible('02-performance');

    // By partner, chosen from the registered partners: conversions only. Sends and taps have no partner, so their
    // cells (and CTR, CVR, revenue per send, EPC) are "—" with the reason on hover, and "n/a" in the CSV.
    const partnerFilter = page.getByLabel('Partner', { exact: true });
    expect(await partnerFilter.locator('option').allTextContents()).toEqual(['any partner', 'Network A (network-a)']);
    await page.getByLabel('Then by', { exact: true }).selectOption('none');
    await page.getByLabel('Campaign ids', { exact: true }).fill('');
    await partnerFilter.selectOption('network-a');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await table.locator('tbody td .not-applicable').first().waitFor();
    const shown = async () => {
      const header = (await table.locator('thead th').allTextContents()).map((h) => h.replace(/ [↕▲▼]$/, ''));
      const cells = (await rows()).map((r) => Object.fromEntries(header.slice(1).map((h, i) => [h, r[i + 1]])));
      return { header, cells };
    };
    const filtered = await shown();
    // Only the creative the partner's conversion is credited to; its conversion and revenue, the rest not applicable.
    expect(filtered.cells).toEqual([expect.objectContaining({ Sends: '—', Engagements: '—', CTR: '—', Conversions: '1', CVR: '—', 'Approved revenue': '$24.99', 'Revenue / send': '—' })]);
    expect(await table.locator('tbody td .not-applicable').first().getAttribute('title')).toMatch(/sends and taps have no partner/i);
    expect(await page.getByTestId('partner-note').textContent()).toMatch(/sends and taps have no partner/);
    // Grouped by partner: one row, named from the partners list, and the total.
    await page.getByLabel('Group by', { exact: true }).selectOption('partner');
    await partnerFilter.selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await table.locator('thead th', { hasText: /^Partner/ }).waitFor();
    await table.locator('tbody tr', { hasText: 'Network A (network-a)' }).waitFor();
    const byPartner = await shown();
    expect(byPartner.cells).toEqual([expect.objectContaining({ Sends: '—', Conversions: '1', 'Approved revenue': '$24.99' })]);
    expect((await rows())[0][0]).toBe('Network A (network-a)');
    const foot = await table.locator('tfoot td').allTextContents();
    expect(foot[byPartner.header.indexOf('Sends')]).toBe('—');
    expect(foot[byPartner.header.indexOf('Conversions')]).toBe('1');
    const [partnerCsv] = await Promise.all([page.waitForEvent('download'), table.getByRole('button', { name: /Download CSV/ }).click()]);
    const partnerLines = readFileSync((await partnerCsv.path())!, 'utf8').split('\r\n').map((l) => l.split(','));
    expect(partnerLines[0]).toEqual(byPartner.header);
    const csvCell = (line: string[], h: string) => line[byPartner.header.indexOf(h)];
    for (const line of partnerLines.slice(1, 3)) {
      expect([csvCell(line, 'Sends'), csvCell(line, 'CTR'), csvCell(line, 'Conversions'), csvCell(line, 'Approved revenue')]).toEqual(['n/a', 'n/a', '1', '24.99']);
    }
    expect(partnerLines.map((l) => l[0])).toEqual(['Partner', 'Network A (network-a)', 'TOTAL', '']);
    await accessible('02b-performance-by-partner');
    // "Then by" offers the partner too; back to creative for the next specs.
    await page.getByLabel('Group by', { exact: true }).selectOption('creative');
    expect(await page.getByLabel('Then by', { exact: true }).locator('option').allTextContents()).toEqual(['none', 'offer', 'campaign', 'date', 'partner']);
  });

  it('Messages and contacts: a message with every tap, and a contact journey', async () => {
    await page.getByRole('link', { name: 'Messages & contacts' }).click();
    await heading('Messages & contacts').waitFor();
    // The messages list (newest send first) with the seed's three messages: m1 tapped twice and converted; the
    // contacts list with the seed's three contacts (ana: one engagement of two taps, and the conversion).
    await main().locator('table[data-testid="messages"] tbody tr').nth(2).waitFor();
    const m1 = main().locator('table[data-testid="messages"] tbody tr', { has: page.getByRole('link', { name: 'm1', exact: true }) });
    expect((await m1.locator('td').allTextContents()).slice(2)).toEqual(['Yes', '2', 'Yes', '$24.99']);
    const contacts = main().locator('table[data-testid="contacts"] tbody tr');
    await contacts.nth(2).waitFor();
    expect(await contacts.locator('th').allTextContents()).toEqual(['ana', 'ben', 'cleo']);
    expect((await contacts.nth(0).locator('td').allTextContents()).slice(0, 4)).toEqual(['1', '1', '1', '$24.99']);
    await accessible('03-messages');
    // Searching by id prefix narrows the list; a contact opens its journey.
    await page.getByLabel('Search contacts', { exact: true }).fill('cl');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await main().locator('table[data-testid="contacts"] tbody tr').first().getByRole('link', { name: 'cleo' }).waitFor();
    expect(await contacts.count()).toBe(1);
    await main().getByRole('link', { name: 'cleo', exact: true }).click();
    await heading('Contact cleo').waitFor();
    await page.goBack();
    await heading('Messages & contacts').waitFor();
    await page.getByLabel('Message id', { exact: true }).fill('m1');
    await page.getByRole('button', { name: 'Open message' }).click();
    await heading('Message m1').waitFor();
    await main().getByText(/Yes, first at .* \(2 taps\)/).waitFor();
    expect(await main().locator('ol.taps li .badge').allTextContents()).toEqual(['person · engagement', 'person · repeat tap']);
    await main().getByText('$24.99').first().waitFor();
    await accessible('04-message');
    await main().getByRole('link', { name: 'ana' }).click();
    await heading('Contact ana').waitFor();
    await main().locator('ol.journey li').nth(2).waitFor();
    expect(await main().locator('ol.journey li strong').allTextContents()).toEqual(['Message sent', 'Tapped the link', 'Tapped the link', 'Converted']);
    await accessible('05-contact');
  });

  let tuneTemplate = '';

  it('journey: creates a TUNE partner (token shown once) and copies its postback template', async () => {
    await page.getByRole('link', { name: 'Partners' }).click();
    await heading('Partners').waitFor();
    await page.getByTestId('partners').getByRole('link', { name: /Network A/ }).waitFor();
    await page.getByLabel('Partner id (in the postback path)', { exact: true }).fill('tune-acme');
    await page.getByLabel('Name', { exact: true }).fill('Acme on TUNE');
    await page.getByLabel('Platform', { exact: true }).selectOption('tune');
    await page.getByRole('button', { name: 'Register partner' }).click();
    const created = page.getByTestId('created-partner');
    await created.waitFor();
    const token = await created.getByLabel('Postback token (shown once)', { exact: true }).inputValue();
    expect(token.length).toBeGreaterThan(20);
    await created.getByRole('button', { name: 'Copy' }).nth(1).click();
    await created.getByText('Copied to the clipboard.').waitFor();
    tuneTemplate = (await page.evaluate('navigator.clipboard.readText()')) as string;
    expect(tuneTemplate).toContain('/postbacks/tune-acme?');
    expect(tuneTemplate).toContain('{aff_click_id}');
    expect(tuneTemplate).toContain(token);
    await page.getByTestId('partners').getByRole('link', { name: /Acme on TUNE/ }).waitFor();
    await accessible('06-partners');
  });

  it('Webhooks: adds an endpoint and shows its signing secret once', async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await heading('Webhooks').waitFor();
    await page.getByLabel('Endpoint id', { exact: true }).fill('crm');
    await page.getByLabel('Name', { exact: true }).fill('CRM');
    await page.getByLabel('URL', { exact: true }).fill(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const created = page.getByTestId('created-endpoint');
    await created.waitFor();
    hookSecret = await created.getByLabel('Signing secret (shown once)', { exact: true }).inputValue();
    expect(hookSecret).toMatch(/^whsec_/);
    await page.getByTestId('endpoints').getByRole('cell', { name: 'CRM (crm)' }).waitFor();
    await accessible('06b-webhooks');
    // The next journey starts where the partner journey left off.
    await page.getByRole('link', { name: 'Partners' }).click();
    await heading('Partners').waitFor();
  });

  it('journey: sends a test postback without typing the token, finds it under Conversions and opens its explanation', async () => {
    await page.getByTestId('partners').getByRole('link', { name: /Acme on TUNE/ }).click();
    await heading('Partner tune-acme').waitFor();
    expect(await page.getByLabel('Postback URL template', { exact: true }).inputValue()).toContain('/postbacks/tune-acme?');
    // ben's tap (message m2) converts through the new partner.
    await page.getByLabel('Click id', { exact: true }).fill(stack.seed.clickIds[2]);
    await page.getByLabel('Payout', { exact: true }).fill('19.99');
    await page.getByRole('button', { name: 'Send test postback' }).click();
    const result = page.getByTestId('test-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('HTTP 200');
    const conversionId = (await result.getByRole('link').textContent())!;
    await accessible('07-partner');

    await page.getByRole('link', { name: 'Conversions' }).click();
    await heading('Conversions').waitFor();
    await page.getByLabel('Partner id', { exact: true }).fill('tune-acme');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const row = page.getByTestId('conversions').getByRole('link', { name: `tune-acme / ${conversionId}` });
    await row.waitFor();
    await accessible('08-conversions');
    await row.click();
    await heading(`Conversion tune-acme / ${conversionId}`).waitFor();
    // Attribution decides within seconds of the postback (through NATS): once it has, one refresh shows it.
    await eventually(async () => {
      const res = await fetch(`${base()}/api/conversions/tune-acme/${conversionId}`, { headers: { 'x-api-key': ADMIN_KEY } });
      return ((await res.json()) as { diagnosis: { outcome: string } }).diagnosis.outcome === 'ATTRIBUTED';
    }, 30_000);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await main().getByRole('heading', { name: 'Credited to message m2' }).waitFor();
    const checklist = await page.getByRole('list', { name: 'Troubleshooting checklist' }).locator('li .check-answer').allTextContents();
    expect(checklist).toEqual(['yes', 'yes', 'yes', 'yes']);
    await main().getByText('30 days, the offer\'s own window').waitFor();
    await main().getByRole('img', { name: /Timeline of 1 candidate clicks/ }).waitFor();
    await main().locator('ol.history li').first().waitFor();
    await accessible('09-conversion');
  });

  it("edits an offer's window and shows re-attribution's dry-run revenue diff", async () => {
    await page.getByRole('link', { name: 'Offers' }).click();
    await heading('Offers').waitFor();
    // The catalog lists the seed's offer with its terms; Edit fills the form with them.
    const row = main().getByRole('row', { name: /Summer Clearance \(summer\)/ });
    await row.getByText('30 days').waitFor();
    await row.getByRole('button', { name: 'Edit' }).click();
    expect(await page.getByLabel('Destination URL (with {click_id})', { exact: true }).inputValue()).toBe('https://shop.example.com/summer?aff_click_id={click_id}');
    expect(await page.getByLabel('Default payout', { exact: true }).inputValue()).toBe('24.99');
    // The seed's taps are ten days old: a 5-day window takes both conversions' credit away.
    await page.getByLabel('Click window (days, 1-365)', { exact: true }).fill('5');
    await page.getByRole('button', { name: 'Save offer' }).click();
    await main().getByText(/Saved Summer Clearance \(summer\): window 5 days/).waitFor();
    await row.getByText('5 days').waitFor();
    await page.getByRole('button', { name: 'Dry run: show the revenue diff' }).click();
    const diff = page.getByTestId('reattribution-result');
    await diff.waitFor();
    expect(await diff.getByRole('status').textContent()).toMatch(/Dry run, nothing changed: 2 decisions examined, 2 would change/);
    const byOffer = await diff.getByRole('table', { name: 'Revenue by offer' }).locator('tbody td').allTextContents();
    expect(byOffer).toEqual(['summer', '$44.98', '$0.00', '-$44.98', '$0.00 → $0.00']);
    await accessible('10-offers');
  });

  it('Operations: uploads a CSV with a bad row, replays, reconciles against the partner totals, shows cohort maturity', async () => {
    await page.getByRole('link', { name: 'Operations' }).click();
    await heading('Operations').waitFor();
    const csv = ['click_id,conversion_id,payout,currency,status,occurred_at', `${stack.seed.clickIds[0]},imp-1,5.00,USD,approved,${new Date().toISOString()}`, 'nope,imp-2,abc,USD,approved,2026-01-01T00:00:00Z', ''].join('\n');
    await page.locator('#import').getByLabel('Partner id', { exact: true }).fill('network-a');
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name: 'conversions.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Upload and import' }).click();
    const imported = page.getByTestId('import-result');
    await imported.waitFor();
    expect(await imported.locator('p').textContent()).toMatch(/^2 rows: 1 stored, 0 duplicates, 0 adjusted, 1 refused\./);
    const refused = await imported.locator('tbody tr td').allTextContents();
    expect(refused[0]).toBe('3');
    expect(refused[1]).toMatch(/payout/);

    await page.locator('#replay').getByLabel('Partner id', { exact: true }).fill('network-a');
    await page.locator('#replay').getByLabel(/Original outcomes/).fill('stored');
    await page.locator('#replay').getByRole('button', { name: 'Dry run' }).click();
    const replay = page.getByTestId('replay-result');
    await replay.waitFor();
    expect(await replay.locator('p').textContent()).toMatch(/^Dry run, nothing stored: 1 duplicate/);

    const rec = page.getByTestId('reconciliation');
    await rec.locator('tbody tr').first().waitFor();
    // The partner's platform says one conversion and $10.01 more than we received.
    const received = (await rec.locator('tbody tr').first().locator('td').first().textContent())!;
    const [, count, dollars] = /^(\d+) · \$([\d,]+\.\d\d)$/.exec(received)!;
    const theirs = (Number(dollars.replace(/,/g, '')) * 100 + 1001) / 100;
    await rec.getByLabel(/Partner's conversions, network-a/).first().fill(String(Number(count) + 1));
    await rec.getByLabel(/Partner's payout, network-a/).first().fill(theirs.toFixed(2));
    expect(await rec.getByTestId('reconciliation-diff').first().textContent()).toBe('+1 conversions +$10.01');
    const maturity = page.getByTestId('maturity');
    await maturity.locator('tbody tr').first().waitFor();
    expect(await maturity.locator('tbody tr').last().locator('th').textContent()).toBe('All sends');
    await accessible('11-operations');
  });

  it('Webhooks: the credited test conversion reaches the receiver signed; the log shows it and redelivers it under the same id', async () => {
    const hook = await eventually(async () => hooks.find((x) => x.body.type === 'conversion.attributed'), 30_000);
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await heading('Webhooks').waitFor();
    await page.getByTestId('endpoints').getByRole('button', { name: 'Deliveries' }).click();
    const log = page.getByTestId('deliveries');
    await log.getByRole('cell', { name: hook.id }).waitFor();
    await accessible('06c-webhook-deliveries');
    const before = hooks.filter((x) => x.id === hook.id).length;
    await log.getByRole('row', { name: new RegExp(hook.id) }).getByRole('button', { name: 'Redeliver' }).click();
    await eventually(async () => hooks.filter((x) => x.id === hook.id).length === before + 1, 15_000);
  });

  it('fits a 390 px wide phone: no sideways scrolling of the page, tables scroll inside their card', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [link, title] of [['Overview', 'Overview'], ['Performance', 'Performance'], ['Partners', 'Partners'], ['Operations', 'Operations']]) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await heading(title).waitFor();
      await page.waitForLoadState('networkidle');
      const width = (await page.evaluate('document.documentElement.scrollWidth')) as number;
      expect([title, width]).toEqual([title, 390]);
      await shot(page, `12-phone-${title.toLowerCase()}`, false);
    }
    await page.setViewportSize({ width: 1366, height: 900 });
  });

  it('shows a campaign-restricted read-only key what it may do, and offers it no setup action', async () => {
    await page.getByText('Key: console-admin').click();
    await page.getByRole('button', { name: 'Use another key' }).click();
    await page.getByLabel('API key', { exact: true }).fill(READER_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('list', { name: 'Key figures' }).waitFor();
    await page.getByText('Key: camp-reader').click();
    await page.getByText(/Only campaigns camp-spring/).waitFor();
    await page.getByText('Key: camp-reader').click();
    await page.getByRole('link', { name: 'Partners' }).click();
    await heading('Partners').waitFor();
    expect(await main().locator('.status-scope').allTextContents()).toEqual([
      'Your API key does not grant partners:read: this action is not available to it.',
      'Your API key does not grant partners:write: this action is not available to it.',
    ]);
    expect(failedRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
