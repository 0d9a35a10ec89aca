import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');
/** Shared with deploy/test: a build removes dist/apps/<app>, which must not happen while another spec copies it. */
export const BUILD_LOCK = '/tmp/trackly-deploy-build.lock';

/**
 * A private copy of an app's build, for specs that run it as a real child process (and kill it): built under the
 * build lock, then copied, so a later build by another spec cannot pull the files away mid-test. Returns the path of
 * the copy's main.js and a function that removes the copy.
 */
export function builtAppCopy(app: string, label: string): { main: string; remove: () => void } {
  const copy = path.join(ROOT, 'dist', `${label}-${app}-${process.pid}`);
  execFileSync('flock', [BUILD_LOCK, 'sh', '-c', `npx nx build ${app} --output-style=static && rm -rf "${copy}" && cp -r dist/apps/${app} "${copy}"`], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
    timeout: 300_000,
  });
  return { main: path.join(copy, `apps/${app}/src/main.js`), remove: () => execFileSync('rm', ['-rf', copy]) };
}
