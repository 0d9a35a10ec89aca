import { addScrapeHook, countClick, countPostback, metricsRegistry, outboxBacklog, renderMetrics } from './metrics';

describe('metrics', () => {
  it('renders the business counters with their labels', async () => {
    countClick('first');
    countClick('first');
    countPostback('impact', 'accepted');
    const text = await renderMetrics();
    expect(text).toMatch(/^clicks_total\{class="first"\} 2$/m);
    expect(text).toMatch(/^postbacks_total\{partner="impact",outcome="accepted"\} 1$/m);
    // Process metrics come along (CPU, memory, event loop lag).
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('runs scrape hooks before rendering, and stops running a removed one', async () => {
    let n = 0;
    const remove = addScrapeHook(async () => {
      n++;
      outboxBacklog.set({ schema: 'hooktest' }, 41 + n);
    });
    expect(await renderMetrics()).toMatch(/^outbox_backlog_messages\{schema="hooktest"\} 42$/m);
    remove();
    await renderMetrics();
    expect(n).toBe(1);
    outboxBacklog.remove({ schema: 'hooktest' });
  });

  it('does not let a failing or hanging hook hold up or break a scrape', async () => {
    const r1 = addScrapeHook(() => Promise.reject(new Error('database down')));
    const r2 = addScrapeHook(() => new Promise<void>(() => undefined));
    const started = Date.now();
    const text = await renderMetrics(100);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(text).toContain('grpc_server_handled_total');
    r1();
    r2();
  });

  it('uses one registry for every family', () => {
    const names = metricsRegistry.getMetricsAsArray().map((m) => m.name);
    for (const n of [
      'grpc_server_handled_total',
      'grpc_server_handling_seconds',
      'http_server_requests_total',
      'http_server_request_duration_seconds',
      'nats_consumer_pending_messages',
      'nats_consumer_ack_pending_messages',
      'nats_consumer_redeliveries_total',
      'nats_consumer_messages_total',
      'outbox_backlog_messages',
      'outbox_oldest_unpublished_age_seconds',
      'outbox_published_total',
      'clicks_total',
      'postbacks_total',
    ]) {
      expect(names).toContain(n);
    }
  });
});
