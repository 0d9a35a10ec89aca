/** Rendering Kustomize trees, schema validation, and a small NetworkPolicy evaluator for the manifest specs. */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { DEPLOY } from './deploy-helpers';

// Loose object shape for rendered manifests: the specs read nested fields freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

/** `kubectl kustomize` (kustomize v5 built into kubectl); the same renderer `kubectl apply -k` uses. */
export function render(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', path.join(DEPLOY, 'k8s', dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new Error('kubectl is not installed: the manifests cannot be rendered (apt-get install kubectl)');
    throw new Error(`kubectl kustomize ${dir} failed: ${err.stderr ?? err.message}`);
  }
  return parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`${dir}: invalid YAML: ${d.errors[0].message}`);
    return d.toJS() as K8sObject;
  });
}

/** Module path of the kubernetes-models class for an apiVersion (core "v1" -> "v1", "apps/v1" -> "apps/v1"). */
export function modelFor(obj: K8sObject): { validate(): void } | undefined {
  const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
  const mod = group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let exports: Record<string, new (data: unknown) => { validate(): void }>;
  try {
    exports = require(mod);
  } catch {
    return undefined;
  }
  const Model = exports[obj.kind];
  return Model ? new Model(obj) : undefined;
}

export type Labels = Record<string, string>;

interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export function selects(sel: LabelSelector | undefined, labels: Labels): boolean {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && e.values!.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values!.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** A pod as NetworkPolicies see it; `external` is a client outside the cluster (no pod, no namespace labels). */
export interface Peer {
  labels: Labels;
  namespace: string;
  external?: boolean;
}

export const EXTERNAL: Peer = { labels: {}, namespace: '', external: true };

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface PolicyRule {
  from?: PolicyPeer[];
  to?: PolicyPeer[];
  ports?: { port?: number | string; protocol?: string }[];
}

function peerMatches(p: PolicyPeer, other: Peer, policyNs: string): boolean {
  if (p.ipBlock) return true; // an address range: anything may be there
  if (other.external) return false;
  const nsOk = p.namespaceSelector
    ? selects(p.namespaceSelector, { 'kubernetes.io/metadata.name': other.namespace })
    : other.namespace === policyNs;
  const podOk = p.podSelector ? selects(p.podSelector, other.labels) : true;
  return nsOk && podOk;
}

function ruleAllows(rule: PolicyRule, peers: PolicyPeer[] | undefined, other: Peer, port: number, ns: string): boolean {
  const portOk = !rule.ports?.length || rule.ports.some((p) => p.port === undefined || p.port === port);
  const peerOk = !peers?.length || peers.some((p) => peerMatches(p, other, ns));
  return portOk && peerOk;
}

/** Kubernetes NetworkPolicy semantics (TCP, numeric ports): isolated by any policy of that type, then allowed by any rule. */
export class NetworkModel {
  private readonly policies: K8sObject[];

  constructor(objects: K8sObject[]) {
    this.policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  }

  private applying(pod: Peer, type: 'Ingress' | 'Egress'): K8sObject[] {
    return this.policies.filter(
      (p) =>
        (p.metadata.namespace ?? '') === pod.namespace &&
        (p.spec.policyTypes ?? ['Ingress']).includes(type) &&
        (Object.keys(p.spec.podSelector ?? {}).length === 0 || selects(p.spec.podSelector, pod.labels)),
    );
  }

  ingressAllowed(to: Peer, from: Peer, port: number): boolean {
    if (to.external) return true;
    const ps = this.applying(to, 'Ingress');
    if (!ps.length) return true;
    return ps.some((p) => ((p.spec.ingress ?? []) as PolicyRule[]).some((r) => ruleAllows(r, r.from, from, port, to.namespace)));
  }

  egressAllowed(from: Peer, to: Peer, port: number): boolean {
    if (from.external) return true;
    const ps = this.applying(from, 'Egress');
    if (!ps.length) return true;
    return ps.some((p) => ((p.spec.egress ?? []) as PolicyRule[]).some((r) => ruleAllows(r, r.to, to, port, from.namespace)));
  }

  canConnect(from: Peer, to: Peer, port: number): boolean {
    return this.egressAllowed(from, to, port) && this.ingressAllowed(to, from, port);
  }
}
