/**
 * Headless Chromium for the console's specs: Debian's package at /usr/bin/chromium (CHROMIUM_PATH to use another),
 * driven by playwright-core, which downloads no browser. A missing browser fails the spec with the way to install it:
 * browser specs are never skipped silently.
 */
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots and measurements of a run, kept as test artefacts (dist/ is not committed). */
export const ARTEFACTS = path.resolve(__dirname, '../../../dist/console-e2e');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the console's browser specs drive Debian's Chromium. Install it once with ` +
        '`apt-get install chromium` (or point CHROMIUM_PATH at a Chromium binary).',
    );
  }
  mkdirSync(ARTEFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As the machine's probe runs it: no sandbox as root, no GPU, and no background connections (the network is closed).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * axe-core on the page as it is now: the serious and critical violations (WCAG 2 A/AA rules and best practices).
 * The script is evaluated through the DevTools protocol, which the page's CSP does not govern.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe !== "undefined"'))) {
    const source = require('axe-core').source as string;
    await page.evaluate(source);
  }
  const all = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) })))`,
  )) as AxeViolation[];
  return all.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export function shot(page: Page, name: string, fullPage = true): Promise<Buffer> {
  return page.screenshot({ path: path.join(ARTEFACTS, `${name}.png`), fullPage });
}
