import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const DEPLOY = path.join(ROOT, 'deploy');

/** The deployable apps: every project under apps/ tagged type:app (platform-e2e is type:e2e). */
export function deployableApps(): string[] {
  return fs
    .readdirSync(path.join(ROOT, 'apps'))
    .filter((name) => {
      const file = path.join(ROOT, 'apps', name, 'project.json');
      if (!fs.existsSync(file)) return false;
      const tags: string[] = JSON.parse(fs.readFileSync(file, 'utf8')).tags ?? [];
      return tags.includes('type:app');
    })
    .sort();
}

/** Where `nx build <app>` puts the entry point (tsc rootDir = repository root). */
export function distMain(app: string): string {
  return path.join(ROOT, 'dist/apps', app, 'apps', app, 'src/main.js');
}

/**
 * `nx build <app>` (a cache hit when nothing changed), serialised across Jest workers: a build first removes
 * dist/apps/<app>, which must not happen under another spec that reads it.
 */
export function buildApp(app: string): void {
  try {
    execFileSync('flock', [BUILD_LOCK, 'npx', 'nx', 'build', app, '--output-style=static'], {
      cwd: ROOT,
      stdio: 'pipe',
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
      timeout: 300_000,
    });
  } catch (e) {
    const out = `${(e as { stdout?: Buffer }).stdout ?? ''}`.split('\n').slice(-30).join('\n');
    throw new Error(`nx build ${app} failed:\n${out}`);
  }
}

export const BUILD_LOCK = '/tmp/trackly-deploy-build.lock';

export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
