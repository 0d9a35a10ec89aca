// Budget check run by the console's build: the JavaScript the console ships, gzipped as the gateway serves it,
// must stay under 300 kB. Prints each file's size; exits 1 above the budget, or when a file calls the development
// JSX runtime (jsxDEV), which the production React the bundle carries does not have: the page would stay blank.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const BUDGET_BYTES = 300 * 1000;
const dist = fileURLToPath(new URL('../../../dist/apps/console/assets', import.meta.url));

export function measure(dir = dist) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => {
      const body = readFileSync(join(dir, f));
      return { file: f, bytes: body.length, gzip: gzipSync(body, { level: 9 }).length, devJsx: body.includes('jsxDEV') };
    });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = measure();
  const total = files.reduce((s, f) => s + f.gzip, 0);
  for (const f of files) console.log(`console: ${f.file} ${(f.bytes / 1000).toFixed(1)} kB, ${(f.gzip / 1000).toFixed(1)} kB gzipped`);
  console.log(`console: JavaScript shipped ${(total / 1000).toFixed(1)} kB gzipped (budget ${BUDGET_BYTES / 1000} kB)`);
  if (!files.length) {
    console.error('console: no JavaScript found in the build');
    process.exit(1);
  }
  const dev = files.filter((f) => f.devJsx).map((f) => f.file);
  if (dev.length) {
    console.error(`console: development JSX (jsxDEV) in ${dev.join(', ')}: built with NODE_ENV other than production?`);
    process.exit(1);
  }
  if (total > BUDGET_BYTES) {
    console.error(`console: over budget by ${((total - BUDGET_BYTES) / 1000).toFixed(1)} kB`);
    process.exit(1);
  }
}
