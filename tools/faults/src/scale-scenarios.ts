/**
 * l: two replicas of every app on one machine share the work. A second process of each of the four services is
 * started on the same databases and streams (own ports); taps go to both click edges (every other tracked link
 * points at the second), postbacks alternate between both ingest edges, and the consumers of both attribution and
 * both reporting processes pull from the same durables. The books must be exact, and each second replica must have
 * done part of the work.
 */
import * as path from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { freePort, portOpen, sleep } from './infra';
import { newCounters } from './load';
import type { AppName, AppProcess } from './platform';
import type { Context, ScenarioResult } from './scenarios';
import { audit } from './scenarios';

async function httpReady(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.status === 200;
}

/** Sum of http_server_requests_total samples of an app's /metrics matching the route and status. */
async function requests(base: string, route: string, status: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('http_server_requests_total{') && line.includes(`route="${route}"`) && line.includes(`status="${status}"`)) n += Number(line.split(' ').pop());
  }
  return n;
}

export async function scenarioTwoReplicas(ctx: Context, n: number): Promise<ScenarioResult> {
  const id = 'l';
  const r: ScenarioResult = { id, title: 'two replicas of every app share the work', sales: 0, counters: newCounters(), checks: [], faultNote: '' };
  const host = '127.0.0.1';
  const [tg, th, ig, ih, ag, rg] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const trackingHttp2 = `http://${host}:${th}`;
  const ingestHttp2 = `http://${host}:${ih}`;
  const { apps } = ctx.platform;
  const log = (app: string) => path.join(ctx.pg.dir, `${app}-replica-2.log`);
  const second: Record<AppName, AppProcess> = {
    tracking: apps.tracking.replica({ TRACKING_GRPC_PORT: `${tg}`, TRACKING_HTTP_PORT: `${th}`, TRACKING_PUBLIC_URL: trackingHttp2 }, log('tracking'), () => httpReady(`${trackingHttp2}/readyz`)),
    ingest: apps.ingest.replica({ INGEST_GRPC_PORT: `${ig}`, INGEST_HTTP_PORT: `${ih}`, INGEST_PUBLIC_URL: ingestHttp2 }, log('ingest'), () => httpReady(`${ingestHttp2}/readyz`)),
    attribution: apps.attribution.replica({ ATTRIBUTION_GRPC_PORT: `${ag}` }, log('attribution'), () => portOpen(ag)),
    reporting: apps.reporting.replica({ REPORTING_GRPC_PORT: `${rg}` }, log('reporting'), () => portOpen(rg)),
  };
  const ingestHttp1 = ctx.platform.ingestHttp;
  // Pull requests waiting on each durable, sampled: two replicas pulling show as 2 (or more) waiting pulls.
  const waiting = new Map<string, number>();
  let sampling = true;
  const jsm = await jetstreamManager(ctx.nc);
  const sampler = (async () => {
    while (sampling) {
      try {
        for await (const s of jsm.streams.list()) {
          for await (const c of jsm.consumers.list(s.config.name)) {
            if (!c.config.durable_name || s.config.name.includes('DEADLETTER')) continue;
            waiting.set(c.config.durable_name, Math.max(waiting.get(c.config.durable_name) ?? 0, c.num_waiting));
          }
        }
      } catch {
        /* a list during a restart of something: sample again */
      }
      await sleep(250);
    }
  })();
  try {
    for (const a of ['tracking', 'ingest', 'attribution', 'reporting'] as const) await second[a].start();
    ctx.log('  a second replica of each app started');
    const counters = newCounters();
    const { partner, token, offer, messages } = await ctx.load.setup(id, n);
    // Every other tracked link on the second click edge (the same /c/{code}: any replica resolves any code).
    const split = messages.map((m, i) => (i % 2 ? { ...m, trackedUrl: m.trackedUrl.replace(ctx.platform.trackingHttp, trackingHttp2) } : m));
    const clickIds = await ctx.load.clicks(split, n, counters);
    const sales = ctx.load.plan(id, n, split, clickIds);
    const start = Date.now();
    // The driver builds each postback's URL from platform.ingestHttp when it sends it: alternate the two edges.
    await ctx.load.postbacks(partner, token, sales, counters, {
      onProgress: (done) => {
        ctx.platform.ingestHttp = done % 2 ? ingestHttp2 : ingestHttp1;
      },
    });
    ctx.platform.ingestHttp = ingestHttp1;
    await audit(ctx, r, { sales, counters, partner, offer }, start);
    await sleep(1500); // idle pulls of both replicas (each fetch waits up to 1 s)
    sampling = false;
    await sampler;
    const taps2 = await requests(trackingHttp2, '/c/:code', '302');
    const postbacks2 = (await requests(ingestHttp2, '/postbacks/:partnerId', '200').catch(() => 0)) || (await requests(ingestHttp2, '/postbacks/:partner', '200').catch(() => 0));
    const durables = [...waiting.entries()].sort();
    const shared = durables.filter(([, w]) => w >= 2);
    r.faultNote = `second replicas on ports tracking ${th}/${tg}, ingest ${ih}/${ig}, attribution ${ag}, reporting ${rg}`;
    r.checks.unshift(
      { name: "second tracking replica served taps", ok: taps2 > 0, detail: `${taps2} redirects (302) of ${counters.clicks} taps` },
      { name: 'second ingest replica stored postbacks', ok: postbacks2 > 0, detail: `${postbacks2} answered 200 of ${counters.postbacksSent}` },
      { name: 'every durable pulled by two replicas', ok: durables.length > 0 && shared.length === durables.length, detail: durables.map(([d, w]) => `${d}: ${w} waiting pulls`).join(', ') },
    );
  } finally {
    sampling = false;
    await sampler;
    ctx.platform.ingestHttp = ingestHttp1;
    for (const a of ['reporting', 'attribution', 'ingest', 'tracking'] as const) await second[a].kill('SIGTERM').catch(() => undefined);
  }
  return r;
}
