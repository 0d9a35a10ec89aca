/**
 * No Docker engine runs here, so the image is checked without building it: the Dockerfile is linted (dockerfile-utils,
 * the validator behind the Docker language server; hadolint is in neither npm nor Debian), held to the one pattern
 * every app uses, and `nx build` is checked to produce exactly the tree the runtime stage copies, with nothing in it
 * that needs a dev dependency (the runtime stage installs with --omit=dev).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { DockerfileParser, Instruction } from 'dockerfile-ast';
import { validate, ValidationSeverity } from 'dockerfile-utils';
import { buildApp, deployableApps, DEPLOY, distMain, ROOT, walk } from './deploy-helpers';

const DOCKERFILE = path.join(DEPLOY, 'docker/Dockerfile');
const text = fs.readFileSync(DOCKERFILE, 'utf8');
const dockerfile = DockerfileParser.parse(text);

/** The instructions of each build stage, by stage name. */
function stages(): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const i of dockerfile.getInstructions()) {
    if (i.getKeyword() === 'FROM') {
      const stage = dockerfile.getFROMs().find((f) => f.getRange().start.line === i.getRange().start.line)!;
      current = [];
      out.set(stage.getBuildStage() ?? '', current);
    } else current?.push(i);
  }
  return out;
}

const args = (i: Instruction) => i.getArgumentsContent() ?? '';
const runs = (is: Instruction[]) => is.filter((i) => i.getKeyword() === 'RUN').map(args);

describe('deploy/docker/Dockerfile', () => {
  it('passes the linter with every rule as an error', () => {
    const all = ValidationSeverity.ERROR;
    const problems = validate(text, {
      deprecatedMaintainer: all,
      directiveCasing: all,
      emptyContinuationLine: all,
      instructionCasing: all,
      instructionCmdMultiple: all,
      instructionEntrypointMultiple: all,
      instructionHealthcheckMultiple: all,
      instructionJSONInSingleQuotes: all,
      instructionWorkdirRelative: all,
    });
    expect(problems.map((p) => `line ${p.range.start.line + 1}: ${p.message}`)).toEqual([]);
  });

  it('pins the base image and every apt package (hadolint DL3006/DL3007/DL3008/DL3009/DL3015)', () => {
    const base = dockerfile.getARGs().find((a) => a.getProperty()?.getName() === 'NODE_IMAGE')?.getProperty()?.getValue();
    expect(base).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    for (const f of dockerfile.getFROMs()) expect(f.getImage()).toBe('${NODE_IMAGE}');
    for (const cmd of runs(dockerfile.getInstructions())) {
      if (!/apt-get install/.test(cmd)) continue;
      expect(cmd).toContain('--no-install-recommends');
      expect(cmd).toContain('rm -rf /var/lib/apt/lists/*');
      const pkgs = cmd.split('apt-get install')[1].split('&&')[0].split(/\s+/).filter((w) => w && !w.startsWith('-'));
      for (const p of pkgs) expect(p).toMatch(/^[a-z0-9.+-]+=\S+$/);
    }
    // npm install would ignore the lockfile; npm ci installs exactly what it says.
    expect(runs(dockerfile.getInstructions()).filter((r) => /npm (i|install)\b/.test(r))).toEqual([]);
  });

  it('builds with the full tree and nx, and runs with production dependencies only', () => {
    const s = stages();
    expect([...s.keys()]).toEqual(['build', 'deps', 'runtime']);
    expect(runs(s.get('build')!).join('\n')).toMatch(/npm ci\b(?![^\n]*--omit)/);
    expect(runs(s.get('build')!).join('\n')).toMatch(/nx build "\$\{APP\}"/);
    expect(runs(s.get('deps')!).join('\n')).toMatch(/npm ci --omit=dev/);
    const runtime = s.get('runtime')!;
    const copies = runtime.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getTextContent().replace(/^COPY\s+/, ''));
    expect(copies).toEqual([
      '--from=deps /app/node_modules ./node_modules',
      'package.json ./',
      '--from=build /src/dist/apps/${APP} ./dist/apps/${APP}',
    ]);
    expect(runs(runtime).join('\n')).not.toMatch(/npm /);
  });

  it('runs as a numeric non-root user under tini, with one entry point for serve and migrate', () => {
    const runtime = stages().get('runtime')!;
    const user = runtime.filter((i) => i.getKeyword() === 'USER').map(args);
    expect(user).toHaveLength(1);
    expect(user[0]).toMatch(/^[1-9]\d{3,}:[1-9]\d{3,}$/);
    // USER comes after every RUN: nothing the app can write is left in the image layers it runs from.
    const idx = (k: string) => runtime.map((i) => i.getKeyword()).lastIndexOf(k);
    expect(idx('USER')).toBeGreaterThan(idx('RUN'));
    expect(runs(runtime).join('\n')).toMatch(/apt-get install .*\btini=/);
    const entry = runtime.find((i) => i.getKeyword() === 'ENTRYPOINT')!;
    expect(JSON.parse(args(entry))).toEqual(['/usr/bin/tini', '--', 'node']);
    const cmd = runtime.find((i) => i.getKeyword() === 'CMD')!;
    expect(JSON.parse(args(cmd))).toEqual(['main.js']);
    expect(runs(runtime).join('\n')).toContain('ln -s "dist/apps/${APP}/apps/${APP}/src/main.js" main.js');
    // The image writes nothing at run time: no VOLUME, no npm at start.
    expect(runtime.some((i) => i.getKeyword() === 'VOLUME')).toBe(false);
  });

  it('exposes every port the manifests use', () => {
    const exposed = args(stages().get('runtime')!.find((i) => i.getKeyword() === 'EXPOSE')!).split(/\s+/).map(Number);
    const manifests = walk(path.join(DEPLOY, 'k8s/base')).filter((f) => f.endsWith('deployment.yaml'));
    expect(manifests.length).toBe(deployableApps().length);
    for (const f of manifests) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/containerPort: (\d+)/g)) expect(exposed).toContain(Number(m[1]));
    }
  });

  it('keeps the build context small (.dockerignore beside the Dockerfile)', () => {
    const ignore = fs.readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8').split('\n');
    expect(ignore).toEqual(expect.arrayContaining(['**/node_modules', 'dist', '.git']));
  });
});

describe('nx build output is what the image copies', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const prodDeps = new Set(Object.keys(pkg.dependencies));
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

  it.each(deployableApps())('%s', (app) => {
    buildApp(app);
    const project = JSON.parse(fs.readFileSync(path.join(ROOT, 'apps', app, 'project.json'), 'utf8'));
    // Nx caches and restores exactly this folder; the Dockerfile copies exactly this folder.
    expect(project.targets.build.outputs).toEqual([`{workspaceRoot}/dist/apps/${app}`]);
    const dist = path.join(ROOT, 'dist/apps', app);
    expect(fs.existsSync(distMain(app))).toBe(true);
    // Compiled code under apps/ and libs/; anything else (static assets) must be put there by the build command itself.
    const extra = fs.readdirSync(dist).filter((e) => !['apps', 'libs'].includes(e));
    for (const e of extra) expect(project.targets.build.options.command).toContain(`dist/apps/${app}/${e}`);
    expect(fs.readdirSync(dist)).toEqual(expect.arrayContaining(['apps', 'libs']));
    const files = walk(dist);
    expect(files.filter((f) => /\.(spec|int-spec)\.js$/.test(f))).toEqual([]);
    // Every source file of the app is in the build (a stale or partial dist would ship an old app).
    for (const src of walk(path.join(ROOT, 'apps', app, 'src'))) {
      if (!src.endsWith('.ts') || /\.(spec|int-spec)\.ts$/.test(src)) continue;
      const rel = path.relative(ROOT, src).replace(/\.ts$/, '.js');
      expect(files).toContain(path.join(dist, rel));
    }
    // Path aliases are rewritten (tsc-alias) and every package required at run time is a production dependency.
    const missing = new Set<string>();
    for (const f of files.filter((x) => x.endsWith('.js'))) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(/require\("([^"]+)"\)/g)) {
        const spec = m[1];
        if (spec.startsWith('.') || builtins.has(spec)) continue;
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (!prodDeps.has(name)) missing.add(`${path.relative(dist, f)}: ${spec}`);
      }
    }
    expect([...missing]).toEqual([]);
  }, 300_000);
});
