/**
 * Renders the base and every overlay with `kubectl kustomize`, validates every object against the Kubernetes JSON
 * schemas (kubernetes-models), and checks the rules the platform depends on: probes, limits and a hardened security
 * context on every workload, migrations before serving, autoscaling and disruption budgets, Services that reach their
 * pods, and NetworkPolicies that let in outside traffic only at the three edges and Postgres only from its owner.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deployableApps, DEPLOY, ROOT } from './deploy-helpers';
import { EXTERNAL, K8sObject, modelFor, NetworkModel, Peer, render, selects } from './k8s';

const TREES = ['base', 'overlays/dev', 'overlays/prod'];
const APPS = deployableApps();
const EDGES: Record<string, number> = { gateway: 3000, tracking: 3001, ingest: 3002 };
const GRPC: Record<string, number> = { tracking: 50051, ingest: 50052, attribution: 50053, reporting: 50054, delivery: 50055 };
const DB_APPS = ['tracking', 'ingest', 'attribution', 'reporting', 'delivery'];
const NATS_APPS = DB_APPS;

const rendered = new Map(TREES.map((t) => [t, render(t)]));
const of = (tree: string, kind: string) => rendered.get(tree)!.filter((o) => o.kind === kind);
const named = (tree: string, kind: string, name: string) => of(tree, kind).find((o) => o.metadata.name === name);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Container = any;

function workloads(tree: string): K8sObject[] {
  return rendered.get(tree)!.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
}

describe.each(TREES)('%s', (tree) => {
  const objects = rendered.get(tree)!;

  it('renders the expected objects', () => {
    expect(APPS).toEqual(['attribution', 'delivery', 'gateway', 'ingest', 'reporting', 'tracking']);
    for (const app of APPS) {
      for (const kind of ['Deployment', 'Service', 'ServiceAccount', 'ConfigMap', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy']) {
        expect(named(tree, kind, app)).toBeDefined();
      }
    }
    const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('validates every object against the Kubernetes schemas', () => {
    const problems: string[] = [];
    for (const o of objects) {
      const id = `${o.kind}/${o.metadata.name}`;
      if (o.apiVersion === 'postgresql.cnpg.io/v1' && o.kind === 'Cluster') {
        // A CRD (CloudNativePG): not in the Kubernetes schemas; the fields this repository relies on.
        if (!Number.isInteger(o.spec.instances) || o.spec.instances < 1) problems.push(`${id}: spec.instances`);
        if (!/^\d+[MGT]i$/.test(o.spec.storage?.size ?? '')) problems.push(`${id}: spec.storage.size`);
        if (!o.spec.bootstrap?.initdb?.database || !o.spec.bootstrap?.initdb?.owner) problems.push(`${id}: bootstrap.initdb`);
        continue;
      }
      const model = modelFor(o);
      if (!model) {
        problems.push(`${id}: unknown apiVersion/kind ${o.apiVersion}`);
        continue;
      }
      try {
        model.validate();
      } catch (e) {
        problems.push(`${id}: ${(e as Error).message}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('gives every workload probes, requests and limits, and a hardened security context', () => {
    const problems: string[] = [];
    for (const w of workloads(tree)) {
      const pod = w.spec.template.spec;
      const id = `${w.kind}/${w.metadata.name}`;
      if (pod.automountServiceAccountToken !== false) problems.push(`${id}: service account token mounted`);
      if (pod.securityContext?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${id}: seccompProfile`);
      if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push(`${id}: host namespaces`);
      for (const c of [...(pod.initContainers ?? []), ...pod.containers] as Container[]) {
        const cid = `${id}/${c.name}`;
        const sc = c.securityContext ?? {};
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${cid}: allowPrivilegeEscalation`);
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${cid}: readOnlyRootFilesystem`);
        if (sc.privileged) problems.push(`${cid}: privileged`);
        if ((sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot) !== true) problems.push(`${cid}: runAsNonRoot`);
        if (!(sc.runAsUser ?? pod.securityContext?.runAsUser)) problems.push(`${cid}: numeric runAsUser`);
        if (!sc.capabilities?.drop?.includes('ALL') || sc.capabilities?.add?.length) problems.push(`${cid}: capabilities`);
        for (const r of ['requests', 'limits']) {
          for (const k of ['cpu', 'memory']) if (!c.resources?.[r]?.[k]) problems.push(`${cid}: resources.${r}.${k}`);
        }
        if (/:latest$/.test(c.image)) problems.push(`${cid}: image ${c.image}`);
      }
      for (const c of pod.containers as Container[]) {
        for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) if (!c[p]) problems.push(`${id}/${c.name}: no ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(APPS)('%s: probes match the app (gRPC health for gRPC-only services, HTTP for edges)', (app) => {
    const d = named(tree, 'Deployment', app)!;
    const c = d.spec.template.spec.containers.find((x: Container) => x.name === app);
    const ports: Record<string, number> = Object.fromEntries(c.ports.map((p: Container) => [p.name, p.containerPort]));
    const probes = [c.startupProbe, c.livenessProbe, c.readinessProbe];
    if (EDGES[app]) {
      expect(ports.http).toBe(EDGES[app]);
      for (const p of probes) expect(p.httpGet && ports[p.httpGet.port]).toBe(EDGES[app]);
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    } else {
      expect(ports.grpc).toBe(GRPC[app]);
      for (const p of probes) expect(p.grpc?.port).toBe(GRPC[app]);
      // Readiness asks for the service, which the app turns NOT_SERVING when it starts draining.
      expect(c.readinessProbe.grpc.service).toBe(`trackly.${app}.v1.${app[0].toUpperCase()}${app.slice(1)}Service`);
      expect(ports.metrics).toBe(9464);
    }
    if (GRPC[app]) expect(ports.grpc).toBe(GRPC[app]);
    // The root file system is read-only: /tmp is an emptyDir.
    expect(c.volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
    expect(d.spec.template.spec.volumes).toContainEqual(expect.objectContaining({ name: 'tmp', emptyDir: expect.any(Object) }));
    // The app's own drain gives up at 25 s (runMain); Kubernetes must not kill it before that plus the preStop pause.
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(35);
    const scrape = d.spec.template.metadata.annotations;
    expect(scrape['prometheus.io/scrape']).toBe('true');
    expect(Object.values(ports)).toContain(Number(scrape['prometheus.io/port']));
  });

  it.each(DB_APPS)('%s: migrations run in an init container of the same image before the app serves', (app) => {
    const pod = named(tree, 'Deployment', app)!.spec.template.spec;
    const [init] = pod.initContainers;
    const main = pod.containers[0];
    expect(init.name).toBe('migrate');
    expect(init.args).toEqual(['main.js', 'migrate']);
    expect(main.args).toEqual(['main.js']);
    expect(init.image).toBe(main.image);
    expect(init.envFrom).toEqual(main.envFrom);
    const dbEnv = (c: Container) => (c.env ?? []).find((e: Container) => e.name === 'DATABASE_URL');
    expect(dbEnv(init)).toEqual(dbEnv(main));
  });

  it('autoscales every stateless app and budgets its disruptions; the autoscaler alone sets the replica count', () => {
    for (const app of APPS) {
      const d = named(tree, 'Deployment', app)!;
      const hpa = named(tree, 'HorizontalPodAutoscaler', app)!;
      const pdb = named(tree, 'PodDisruptionBudget', app)!;
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: app });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(d.spec.replicas).toBeUndefined();
      expect(selects(pdb.spec.selector, d.spec.template.metadata.labels)).toBe(true);
      expect(selects(d.spec.selector, d.spec.template.metadata.labels)).toBe(true);
      // A budget that forbids every eviction would block node drains.
      expect(pdb.spec.maxUnavailable ?? 0).toBeGreaterThanOrEqual(1);
    }
  });

  it('routes every Service port to a named port of the pods it selects', () => {
    for (const s of of(tree, 'Service')) {
      const targets = workloads(tree).filter((w) => selects({ matchLabels: s.spec.selector }, w.spec.template.metadata.labels));
      expect(targets.map((t) => t.metadata.name)).toHaveLength(1);
      const names = targets[0].spec.template.spec.containers.flatMap((c: Container) => c.ports.map((p: Container) => p.name));
      for (const p of s.spec.ports) expect(names).toContain(p.targetPort);
    }
  });

  it('points every gRPC and NATS address in the ConfigMaps at a Service port that exists', () => {
    for (const cm of of(tree, 'ConfigMap').filter((c) => APPS.includes(c.metadata.name))) {
      for (const [k, v] of Object.entries(cm.data as Record<string, string>)) {
        const m = /^(?:dns:\/\/\/|nats:\/\/)?([a-z-]+):(\d+)$/.exec(v);
        if (!/_GRPC_URL$|^NATS_URL$/.test(k) || !m) continue;
        const svc = named(tree, 'Service', m[1]);
        if (!svc && k === 'NATS_URL' && tree === 'base') continue; // NATS comes from a component or from outside
        expect(svc?.spec.ports.map((p: Container) => p.port)).toContain(Number(m[2]));
        if (k !== 'NATS_URL') expect(GRPC[m[1]]).toBe(Number(m[2]));
      }
    }
  });

  describe('network policies', () => {
    const net = new NetworkModel(objects);
    const ns = named(tree, 'Deployment', 'gateway')!.metadata.namespace ?? '';
    const pod = (app: string): Peer => ({ labels: named(tree, 'Deployment', app)!.spec.template.metadata.labels, namespace: ns });
    const appPorts = (app: string): number[] =>
      named(tree, 'Deployment', app)!.spec.template.spec.containers.flatMap((c: Container) => c.ports.map((p: Container) => p.containerPort));

    it('denies everything not allowed, in both directions, for every pod', () => {
      const deny = of(tree, 'NetworkPolicy').find((p) => p.metadata.name === 'default-deny')!;
      expect(deny.spec.podSelector).toEqual({});
      expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    });

    it('lets outside traffic reach only the HTTP ports of the gateway and the two edges', () => {
      for (const app of APPS) {
        for (const port of appPorts(app)) {
          expect([app, port, net.ingressAllowed(pod(app), EXTERNAL, port)]).toEqual([app, port, EDGES[app] === port]);
        }
      }
    });

    it('lets only the callers of each gRPC API reach it', () => {
      const callers: Record<string, string[]> = {
        tracking: ['attribution', 'gateway'],
        ingest: ['gateway'],
        attribution: ['gateway'],
        reporting: ['gateway'],
        delivery: ['gateway'],
      };
      for (const [to, port] of Object.entries(GRPC)) {
        for (const from of APPS.filter((a) => a !== to)) {
          expect([from, to, net.canConnect(pod(from), pod(to), port)]).toEqual([from, to, callers[to].includes(from)]);
        }
      }
    });

    it('lets only the database-owning services reach Postgres, and each only its own cluster', () => {
      for (const app of APPS) {
        expect([app, net.egressAllowed(pod(app), EXTERNAL, 5432)]).toEqual([app, DB_APPS.includes(app)]);
      }
      const clusters = of(tree, 'Cluster');
      for (const c of clusters) {
        const db: Peer = { labels: { 'cnpg.io/cluster': c.metadata.name }, namespace: ns };
        for (const app of APPS) {
          expect([app, c.metadata.name, net.canConnect(pod(app), db, 5432)]).toEqual([app, c.metadata.name, `${app}-db` === c.metadata.name]);
        }
      }
      if (tree === 'overlays/dev') expect(clusters.map((c) => c.metadata.name).sort()).toEqual(DB_APPS.map((a) => `${a}-db`).sort());
    });

    it('lets every service that uses events reach NATS', () => {
      const nats = named(tree, 'StatefulSet', 'nats');
      for (const app of APPS) {
        const target = nats ? { labels: nats.spec.template.metadata.labels, namespace: ns } : EXTERNAL;
        expect([app, net.canConnect(pod(app), target, 4222)]).toEqual([app, NATS_APPS.includes(app)]);
      }
    });
  });
});

describe('overlays', () => {
  it.each(['overlays/dev', 'overlays/prod'])('%s: one namespace with the restricted Pod Security Standard, images pinned', (tree) => {
    const [nsObj] = of(tree, 'Namespace');
    expect(nsObj.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of rendered.get(tree)!.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace).toBe(nsObj.metadata.name);
    for (const w of workloads(tree)) {
      for (const c of [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers]) {
        expect(c.image).toMatch(/^[^\s]+\/[^\s]+:[A-Za-z0-9._-]+$|^[a-z]+:[0-9][A-Za-z0-9._-]*$/);
      }
    }
  });

  it('dev: the apps read DATABASE_URL from their CloudNativePG cluster, not from an external-database Secret', () => {
    for (const app of DB_APPS) {
      for (const c of [...named('overlays/dev', 'Deployment', app)!.spec.template.spec.initContainers, ...named('overlays/dev', 'Deployment', app)!.spec.template.spec.containers]) {
        expect(c.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: `${app}-db-app`, key: 'uri' } } });
        expect(JSON.stringify(c.envFrom)).not.toContain(`${app}-database`);
      }
    }
  });

  it('prod: external Postgres from the Secret <app>-database, in-cluster NATS, several replicas', () => {
    expect(of('overlays/prod', 'Cluster')).toEqual([]);
    for (const app of DB_APPS) {
      const c = named('overlays/prod', 'Deployment', app)!.spec.template.spec.containers[0];
      expect(c.envFrom).toContainEqual({ secretRef: { name: `${app}-database` } });
      expect(named('overlays/prod', 'ConfigMap', app)!.data.NATS_STREAM_REPLICAS).toBe('3');
    }
    for (const hpa of of('overlays/prod', 'HorizontalPodAutoscaler')) expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(3);
    // Secrets are made out of band in prod: the docs must name each one the manifests require.
    const docs = fs.readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8');
    const required = new Set<string>();
    for (const w of workloads('overlays/prod')) {
      for (const c of [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers]) {
        for (const e of c.envFrom ?? []) if (e.secretRef && !e.secretRef.optional) required.add(e.secretRef.name);
        for (const e of c.env ?? []) if (e.valueFrom?.secretKeyRef && !e.valueFrom.secretKeyRef.optional) required.add(e.valueFrom.secretKeyRef.name);
      }
      for (const v of w.spec.template.spec.volumes ?? []) if (v.secret && !v.secret.optional) required.add(v.secret.secretName);
    }
    expect([...required].sort()).toEqual([
      'attribution-database', 'delivery-database', 'gateway-api-keys', 'ingest-database', 'reporting-database', 'tracking-database', 'trackly-grpc-auth',
    ]);
    for (const s of required) expect(docs).toContain(s);
  });

  it.each(TREES)('%s: runs every app in production mode with token-authenticated gRPC, the token from a Secret, gateway keys from a mounted Secret', (tree) => {
    for (const app of APPS) {
      const cm = named(tree, 'ConfigMap', app)!.data;
      expect([app, cm.TRACKLY_ENV, cm.GRPC_AUTH_MODE, cm.GRPC_AUTH_TOKEN]).toEqual([app, 'production', 'token', undefined]);
      const spec = named(tree, 'Deployment', app)!.spec.template.spec;
      // The migration (init container) loads the same configuration, so it needs the token as much as the app.
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.envFrom).toContainEqual({ configMapRef: { name: app } });
        expect(c.env).toContainEqual({ name: 'GRPC_AUTH_TOKEN', valueFrom: { secretKeyRef: { name: 'trackly-grpc-auth', key: 'GRPC_AUTH_TOKEN' } } });
      }
    }
    const gateway = named(tree, 'Deployment', 'gateway')!.spec.template.spec;
    const file: string = named(tree, 'ConfigMap', 'gateway')!.data.GATEWAY_API_KEYS_FILE;
    const mount = gateway.containers[0].volumeMounts.find((m: Container) => file.startsWith(`${m.mountPath}/`));
    expect(mount).toMatchObject({ readOnly: true });
    const volume = gateway.volumes.find((v: Container) => v.name === mount.name);
    expect(volume.secret).toMatchObject({ secretName: 'gateway-api-keys', items: [{ key: 'api-keys.json', path: file.slice(mount.mountPath.length + 1) }] });
    expect(JSON.stringify(gateway.containers[0].envFrom)).not.toContain('gateway-api-keys');
  });

  it.each(['overlays/dev', 'overlays/prod'])('%s: NATS runs 3 JetStream servers with file storage, fsync on every write', (tree) => {
    const sts = named(tree, 'StatefulSet', 'nats')!;
    expect(sts.spec.replicas).toBe(3);
    const conf: string = named(tree, 'ConfigMap', 'nats-config')!.data['nats.conf'];
    expect(conf).toMatch(/sync_interval:\s*always/);
    const store = /store_dir:\s*(\S+)/.exec(conf)![1];
    const mount = sts.spec.template.spec.containers[0].volumeMounts.find((m: Container) => store.startsWith(m.mountPath));
    expect(sts.spec.volumeClaimTemplates.map((v: Container) => v.metadata.name)).toContain(mount.name);
    const routes = [...conf.matchAll(/nats:\/\/(nats-\d+)\.([a-z-]+):6222/g)];
    expect(routes.map((r) => r[1])).toEqual(['nats-0', 'nats-1', 'nats-2']);
    for (const r of routes) expect(r[2]).toBe(sts.spec.serviceName);
    expect(named(tree, 'Service', sts.spec.serviceName)!.spec.clusterIP).toBe('None');
    for (const app of NATS_APPS) {
      expect(Number(named(tree, 'ConfigMap', app)!.data.NATS_STREAM_REPLICAS)).toBeLessThanOrEqual(sts.spec.replicas);
    }
  });
});

it('the manifests folder has no leftovers: every YAML file under k8s/ is used by some tree', () => {
  const used = new Set<string>();
  const visit = (dir: string) => {
    const k = fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8');
    used.add(path.join(dir, 'kustomization.yaml'));
    for (const m of k.matchAll(/^\s+- (\S+)$/gm)) {
      const p = path.resolve(dir, m[1]);
      if (!fs.existsSync(p)) continue;
      if (fs.statSync(p).isDirectory()) visit(p);
      else used.add(p);
    }
  };
  for (const t of TREES) visit(path.join(DEPLOY, 'k8s', t));
  const all = (dir: string): string[] =>
    fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? all(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  expect(all(path.join(DEPLOY, 'k8s')).filter((f) => !used.has(f))).toEqual([]);
});
