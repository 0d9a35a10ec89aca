/**
 * Prometheus metrics of a Trackly process: one registry, the metric families every app exposes, helpers for the
 * business counters, and scrape hooks for values that are read when Prometheus asks (consumer lag from JetStream,
 * outbox backlog from Postgres) rather than kept up to date on every event.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Unary gRPC calls handled, by full method path and status code name (OK, NOT_FOUND, INTERNAL, ...). */
export const grpcServerHandled = new Counter({
  name: 'grpc_server_handled_total',
  help: 'gRPC calls completed on the server, by method and status code',
  labelNames: ['grpc_service', 'grpc_method', 'grpc_code'] as const,
  registers: [metricsRegistry],
});

export const grpcServerHandling = new Histogram({
  name: 'grpc_server_handling_seconds',
  help: 'Time to handle a gRPC call on the server',
  labelNames: ['grpc_service', 'grpc_method', 'grpc_code'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** HTTP requests by route pattern (e.g. /c/:code), never by raw path: raw paths would make unbounded label values. */
export const httpRequests = new Counter({
  name: 'http_server_requests_total',
  help: 'HTTP requests completed, by service, method, route pattern and status',
  labelNames: ['service', 'method', 'route', 'status'] as const,
  registers: [metricsRegistry],
});

export const httpRequestDuration = new Histogram({
  name: 'http_server_request_duration_seconds',
  help: 'Time to answer an HTTP request',
  labelNames: ['service', 'method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** Consumer lag: messages in the stream not yet delivered to the durable consumer (JetStream num_pending). */
export const consumerPending = new Gauge({
  name: 'nats_consumer_pending_messages',
  help: 'Messages in the stream not yet delivered to the durable consumer (lag)',
  labelNames: ['stream', 'durable'] as const,
  registers: [metricsRegistry],
});

export const consumerAckPending = new Gauge({
  name: 'nats_consumer_ack_pending_messages',
  help: 'Messages delivered to the durable consumer and not yet acknowledged',
  labelNames: ['stream', 'durable'] as const,
  registers: [metricsRegistry],
});

export const consumerRedeliveries = new Counter({
  name: 'nats_consumer_redeliveries_total',
  help: 'Messages received again after a failed or timed-out attempt (delivery count > 1)',
  labelNames: ['stream', 'durable'] as const,
  registers: [metricsRegistry],
});

/** outcome: applied | duplicate (already processed) | ignored (no handler) | retry | dead_letter. */
export const consumerMessages = new Counter({
  name: 'nats_consumer_messages_total',
  help: 'Messages handled by a durable consumer, by outcome',
  labelNames: ['stream', 'durable', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const consumerHandling = new Histogram({
  name: 'nats_consumer_handling_seconds',
  help: 'Time to apply one event (handler and processed-event record in one transaction)',
  labelNames: ['stream', 'durable'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

/** One transaction of a consumer: the processed-event record of a group of events and their handlers' effects. */
export const consumerBatchDuration = new Histogram({
  name: 'nats_consumer_batch_seconds',
  help: 'Time to apply one group of events in one transaction (handlers, processed-event records, commit)',
  labelNames: ['stream', 'durable'] as const,
  buckets: LATENCY_BUCKETS,
  registers: [metricsRegistry],
});

export const consumerBatchSize = new Histogram({
  name: 'nats_consumer_batch_events',
  help: 'Events in one group applied in one transaction',
  labelNames: ['stream', 'durable'] as const,
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000],
  registers: [metricsRegistry],
});

/** A group whose transaction failed and was split in halves to find the failing event (poison isolation). */
export const consumerBisections = new Counter({
  name: 'nats_consumer_bisections_total',
  help: 'Groups of events split in two after their transaction failed, to isolate the failing event',
  labelNames: ['stream', 'durable'] as const,
  registers: [metricsRegistry],
});

/** A pull still open past its expiry, closed by the consumer so the next one goes out (its end never arrived). */
export const consumerPullsCutShort = new Counter({
  name: 'nats_consumer_pulls_cut_short_total',
  help: 'Pulls still open past their expiry and a margin, closed by the consumer so that the next pull goes out at once',
  labelNames: ['stream', 'durable'] as const,
  registers: [metricsRegistry],
});

export const processedEventsPruned = new Counter({
  name: 'processed_events_pruned_total',
  help: 'processed_events rows deleted after their retention',
  labelNames: ['schema', 'durable'] as const,
  registers: [metricsRegistry],
});

export const outboxBacklog = new Gauge({
  name: 'outbox_backlog_messages',
  help: 'Outbox rows committed and not yet published',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
});

export const outboxOldestAge = new Gauge({
  name: 'outbox_oldest_unpublished_age_seconds',
  help: 'Age of the oldest unpublished outbox row (0 when the outbox is empty)',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
});

export const outboxPublished = new Counter({
  name: 'outbox_published_total',
  help: 'Outbox rows published to JetStream',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
});

export const outboxPublishFailures = new Counter({
  name: 'outbox_publish_failures_total',
  help: 'Outbox relay batches that failed to publish (retried)',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
});

const clicks = new Counter({
  name: 'clicks_total',
  help: 'Clicks recorded, by class (human, preview, bot)',
  labelNames: ['class'] as const,
  registers: [metricsRegistry],
});

const postbacks = new Counter({
  name: 'postbacks_total',
  help: 'Partner postbacks received, by partner and outcome (e.g. accepted, duplicate, rejected)',
  labelNames: ['partner', 'outcome'] as const,
  registers: [metricsRegistry],
});

/** Counts one click; call after the click is stored. Keep `cls` to a small fixed set of values. */
export function countClick(cls: string): void {
  clicks.inc({ class: cls });
}

/** Counts one postback; `partner` is the configured partner key (never raw input), `outcome` a small fixed set. */
export function countPostback(partner: string, outcome: string): void {
  postbacks.inc({ partner, outcome });
}

const deliveryAttempts = new Counter({
  name: 'delivery_attempts_total',
  help: 'Outbound delivery attempts (webhooks, postback templates), by endpoint kind and outcome (delivered, retry, failed)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [metricsRegistry],
});

/** Counts outbound delivery attempts after their result committed; `kind` and `outcome` are small fixed sets (never endpoint ids or URLs). */
export function countDeliveryAttempts(kind: string, outcome: string, n = 1): void {
  deliveryAttempts.inc({ kind, outcome }, n);
}

const noiseRejected = new Counter({
  name: 'edge_noise_rejected_total',
  help: 'Unauthenticated requests answered 429 by an edge because their source sent too many refused requests',
  labelNames: ['edge'] as const,
  registers: [metricsRegistry],
});

/** Counts one request refused by an edge's noise limiter; `edge` is a fixed name (ingest, tracking). */
export function countNoiseRejected(edge: string): void {
  noiseRejected.inc({ edge });
}

/** Refreshes some gauges when Prometheus scrapes; a hook that fails or hangs only leaves its gauges as they were. */
export type ScrapeHook = () => Promise<void>;

const hooks = new Set<ScrapeHook>();

/** Registers a hook run before each scrape; returns its removal. */
export function addScrapeHook(hook: ScrapeHook): () => void {
  hooks.add(hook);
  return () => {
    hooks.delete(hook);
  };
}

/** The exposition text: scrape hooks first (each bounded by timeoutMs), then every metric of the registry. */
export async function renderMetrics(timeoutMs = 2000): Promise<string> {
  await Promise.all(
    [...hooks].map((h) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      return Promise.race([h().catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
    }),
  );
  return metricsRegistry.metrics();
}

export const METRICS_CONTENT_TYPE = metricsRegistry.contentType;
