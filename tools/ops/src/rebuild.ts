/**
 * `npm run rebuild -- --service=attribution|reporting [--dry-run] [--yes]`: a read model emptied (ResetReadModel)
 * and built again from its producers (Redrive over everything they keep, in producer order), then watched until the
 * drift check finds it equal to its producers.
 */
import type { RedriveRequest, RedriveResponse, ResetReadModelResponse } from '@trackly/contracts/ops/v1/redrive_service';
import { compareCounts, Drift, OpsClient, retryWhileUnavailable, ServiceCounts } from '@trackly/grpc';
import { Events } from '@trackly/messaging';

export const SERVICES = ['tracking', 'ingest', 'attribution', 'reporting'] as const;
export type Service = (typeof SERVICES)[number];
export type OpsClients = Record<Service, OpsClient>;

/** Calls of one re-drive while its service answers UNAVAILABLE, and the wait between them (README, docs/operations.md). */
export const REDRIVE_ATTEMPTS = 5;
export const REDRIVE_RETRY_MS = 2000;

/**
 * A re-drive (or its dry run) to its end, run again while the service answers UNAVAILABLE ("retry shortly": its
 * broker or database not answering yet), as docs/operations.md tells operators to: it publishes under the events' own
 * ids, so a repeat is absorbed by the consumers. `onRetry` is told each time, with what to print.
 */
export function redriveRetrying(
  client: OpsClient,
  req: RedriveRequest,
  onProgress: (r: RedriveResponse) => void,
  onRetry: (line: string) => void,
): Promise<RedriveResponse> {
  return retryWhileUnavailable(() => client.redrive(req, onProgress), {
    attempts: REDRIVE_ATTEMPTS,
    delayMs: REDRIVE_RETRY_MS,
    onRetry: (e, attempt) => onRetry(`${e.message}; again in ${REDRIVE_RETRY_MS / 1000} s (attempt ${attempt + 1} of ${REDRIVE_ATTEMPTS})`),
  });
}

interface Producer {
  service: Service;
  /** Event types to re-drive (empty: all of them). */
  eventTypes: string[];
}

interface ReadModel {
  /** In the order to re-drive them: catalog and sends before conversions, conversions before decisions. */
  producers: Producer[];
  /**
   * Per table: the event types whose events re-create its rows. A table with more rows than the producers can
   * re-drive such events (the outbox keeps OUTBOX_RETENTION_DAYS) would come back short: the rebuild refuses.
   */
  sources: Record<string, string[]>;
}

const s = (...events: { subject: string }[]) => events.map((e) => e.subject);

export const READ_MODELS: Partial<Record<Service, ReadModel>> = {
  attribution: {
    producers: [{ service: 'tracking', eventTypes: s(Events.OfferUpserted, Events.MessageSent, Events.ClickRecorded) }],
    sources: {
      'attribution.offers': s(Events.OfferUpserted),
      'attribution.sends': s(Events.MessageSent),
      'attribution.clicks': s(Events.ClickRecorded),
    },
  },
  reporting: {
    producers: [
      { service: 'tracking', eventTypes: [] },
      { service: 'ingest', eventTypes: [] },
      { service: 'attribution', eventTypes: [] },
    ],
    sources: {
      'reporting.names': s(Events.OfferUpserted, Events.CreativeUpserted, Events.CampaignUpserted),
      'reporting.messages': s(Events.MessageSent),
      'reporting.clicks': s(Events.ClickRecorded),
      'reporting.received_conversions': s(Events.ConversionReceived),
      'reporting.credited_conversions': s(Events.ConversionAttributed, Events.AttributionCorrected),
      'reporting.unattributed_conversions': s(Events.ConversionUnattributed, Events.AttributionCorrected),
    },
  },
};

export interface RebuildOptions {
  service: string;
  dryRun: boolean;
  /** Go on even when a table holds more rows than its producers can re-drive events for. */
  force?: boolean;
  /** How long to wait for the drift check to come out equal after the re-drive. */
  timeoutMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
  /** Re-drive progress on one line (a TTY); absent: only the final line of each producer. */
  progress?: (line: string) => void;
}

export interface RebuildResult {
  /** Rows removed (or, on a dry run, that would be) per table. */
  reset: ResetReadModelResponse;
  /** Per producer: the last message of its re-drive (on a dry run: its plan). */
  redrives: { service: Service; last: RedriveResponse }[];
  /** The drift check after the rebuild (absent on a dry run). */
  drift?: { compared: number; drifts: Drift[] };
  /** Read-model rows (processed-event records aside) the reset removed and the re-drive made again. */
  rows?: number;
  /** rows / time from the reset to convergence. */
  rowsPerSecond?: number;
  elapsedMs?: number;
}

const DAY_MS = 86_400_000;
/** The drift check's widest range (GetDailyCounts answers at most 400 days). */
const DRIFT_DAYS = 399;
/** Everything the producers keep: from the epoch to a minute ahead (rows written meanwhile flow live anyway). */
const everything = () => ({ fromTime: new Date(0), toTime: new Date(Date.now() + 60_000) });

export function redriveLine(service: string, r: RedriveResponse): string {
  const parts = r.counts.map((c) => `${c.eventType.split('.').pop()} ${c.published}/${c.matched}`);
  return `${service}: ${parts.join(', ') || 'nothing in the range'}${r.done ? ' — done' : ''}`;
}

export function driftLine(d: Drift): string {
  return `${d.day} ${d.eventType.split('.').pop()}: ${d.producer} ${d.produced}, ${d.readModel} ${d.applied} (${d.applied - d.produced > 0 ? '+' : ''}${d.applied - d.produced})`;
}

/** The drift check of one read model against its producers, over the last DRIFT_DAYS days up to tomorrow (UTC). */
export async function readModelDrift(service: Service, model: ReadModel, clients: OpsClients): Promise<{ compared: number; drifts: Drift[] }> {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const to = Date.now() + DAY_MS;
  const from = to - DRIFT_DAYS * DAY_MS;
  const all: ServiceCounts[] = [];
  for (const p of model.producers) {
    const r = await clients[p.service].dailyCounts(day(from), day(to));
    // Only what this rebuild re-drives: attribution's projections are compared on sends and taps, not conversions.
    all.push({ service: p.service, produced: r.produced.filter((c) => !p.eventTypes.length || p.eventTypes.includes(c.eventType)), applied: [] });
  }
  const own = await clients[service].dailyCounts(day(from), day(to));
  const types = new Set(all.flatMap((a) => a.produced.map((c) => c.eventType)));
  all.push({
    service,
    produced: [],
    applied: own.applied.filter((c) => types.has(c.eventType)),
    appliedTypes: own.appliedEventTypes.filter((t) => types.has(t)),
  });
  return compareCounts(all);
}

/** Tables whose rows the producers cannot all re-create: more rows than re-drivable events of their types. */
function shortfalls(model: ReadModel, reset: ResetReadModelResponse, plans: RedriveResponse[]): string[] {
  const matched = new Map<string, number>();
  for (const p of plans) for (const c of p.counts) matched.set(c.eventType, (matched.get(c.eventType) ?? 0) + Number(c.matched));
  const out: string[] = [];
  for (const t of reset.removed) {
    const types = model.sources[t.table];
    if (!types) continue;
    const events = types.reduce((n, e) => n + (matched.get(e) ?? 0), 0);
    if (Number(t.rows) > events) {
      out.push(`${t.table} holds ${t.rows} rows but the producers keep only ${events} ${types.map((e) => e.split('.').pop()).join('/')} events`);
    }
  }
  return out;
}

/** Dry run: what would be removed and re-driven. Otherwise: reset, re-drive, wait for the drift check to be equal. */
export async function rebuild(o: RebuildOptions, clients: OpsClients): Promise<RebuildResult> {
  const log = o.log ?? (() => undefined);
  const model = READ_MODELS[o.service as Service];
  if (!model) {
    throw new Error(`--service must be one of ${Object.keys(READ_MODELS).join(', ')} (the services with a read model to rebuild)`);
  }
  const service = o.service as Service;

  const plan = await clients[service].resetReadModel(true);
  const plans: { service: Service; last: RedriveResponse }[] = [];
  for (const p of model.producers) {
    plans.push({ service: p.service, last: await redriveRetrying(clients[p.service], { ...everything(), eventTypes: p.eventTypes, dryRun: true }, () => undefined, log) });
  }
  const short = shortfalls(model, plan, plans.map((p) => p.last));
  if (o.dryRun) {
    log(`dry run: a rebuild of ${service} would remove`);
    for (const t of plan.removed) log(`  ${t.table}${t.rowsMatching ? ` (${t.rowsMatching})` : ''}: ${t.rows} rows`);
    log(`  and keep ${plan.keptTables.join(', ')}`);
    log('then re-drive, in this order:');
    for (const p of plans) log(`  ${redriveLine(p.service, p.last).replace(' — done', '')}`);
    for (const line of short) log(`warning: ${line}; a rebuild would lose the rest (it refuses without --force)`);
    return { reset: plan, redrives: plans };
  }
  if (short.length && !o.force) {
    throw new Error(`refusing to rebuild ${service}: ${short.join('; ')} (the outbox keeps OUTBOX_RETENTION_DAYS); --force to rebuild anyway`);
  }

  const started = Date.now();
  const reset = await clients[service].resetReadModel(false);
  const removed = reset.removed.filter((t) => !t.table.endsWith('.processed_events')).reduce((n, t) => n + Number(t.rows), 0);
  log(`reset ${service}: ${reset.removed.map((t) => `${t.table} ${t.rows}`).join(', ')} rows removed; kept ${reset.keptTables.join(', ')}`);
  const redrives: { service: Service; last: RedriveResponse }[] = [];
  for (const p of model.producers) {
    // The read model is empty by now: a broker still coming back must not end the rebuild half done.
    const last = await redriveRetrying(
      clients[p.service],
      { ...everything(), eventTypes: p.eventTypes, dryRun: false },
      (r) => {
        if (!r.done) o.progress?.(redriveLine(p.service, r));
      },
      log,
    );
    log(`re-drove ${redriveLine(p.service, last)}`);
    redrives.push({ service: p.service, last });
  }

  const timeoutMs = o.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  let drift = await readModelDrift(service, model, clients);
  while (drift.drifts.length) {
    if (Date.now() > deadline) {
      throw new Error(
        `${service} did not converge within ${Math.round(timeoutMs / 1000)} s; still different from its producers: ${drift.drifts.slice(0, 20).map(driftLine).join('; ')}` +
          (drift.drifts.length > 20 ? ` and ${drift.drifts.length - 20} more` : ''),
      );
    }
    o.progress?.(`waiting for ${service} to catch up: ${drift.drifts.length} day × event type counts still differ`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    drift = await readModelDrift(service, model, clients);
  }
  const elapsedMs = Date.now() - started;
  const rowsPerSecond = Math.round((removed * 1000) / Math.max(elapsedMs, 1));
  log(`drift check: ${drift.compared} day × event type counts compared, no drift — ${service} holds what ${model.producers.map((p) => p.service).join(', ')} hold`);
  log(`rebuilt in ${(elapsedMs / 1000).toFixed(1)} s: ${removed} read-model rows, ${rowsPerSecond} rows/s`);
  return { reset, redrives, drift, rows: removed, rowsPerSecond, elapsedMs };
}
