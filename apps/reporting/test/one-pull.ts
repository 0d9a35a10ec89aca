import type { Client } from 'pg';
import type { ConsumerInfo } from '@nats-io/jetstream';
import { eventually } from '@trackly/testing';

/** The processed_events records of these event ids for one durable (processed_at is its transaction's start). */
export async function processedEvents(pg: Client, durable: string, ids: string[]): Promise<{ event_id: string; processed_at: Date }[]> {
  const { rows } = await pg.query(`SELECT event_id, processed_at FROM "reporting".processed_events WHERE consumer = $1 AND event_id = ANY($2::text[])`, [
    durable,
    ids,
  ]);
  return rows as { event_id: string; processed_at: Date }[];
}

/**
 * The "one pull, one transaction" check of the runs specs. A blocker event's group is held (the caller holds a lock its
 * handler waits on); `events` are published behind it; once every one of them is delivered and waiting (`consumer`
 * shows them unacknowledged beside the blocker), `release` lets the blocker go, and then all of them must be applied in
 * ONE transaction, after the blocker's.
 */
export async function expectAppliedInOneTransaction(o: {
  pg: Client;
  durable: string;
  consumer: () => Promise<ConsumerInfo>;
  blockerId: string;
  events: [string, () => Promise<unknown>][];
  release: () => Promise<void>;
}): Promise<void> {
  for (const [, publish] of o.events) await publish();
  await eventually(async () => {
    const info = await o.consumer();
    return info.num_pending === 0 && info.num_ack_pending === 1 + o.events.length;
  }, 20_000);
  await o.release();
  const ids = [...new Set(o.events.map(([id]) => id))];
  const rows = await eventually(async () => {
    const r = await processedEvents(o.pg, o.durable, ids);
    return r.length === ids.length ? r : undefined;
  }, 20_000);
  // One transaction (processed_at is its start time) for the events, another one for the blocker before them.
  expect(new Set(rows.map((r) => r.processed_at.toISOString())).size).toBe(1);
  const [blocker] = await processedEvents(o.pg, o.durable, [o.blockerId]);
  expect(blocker.processed_at.getTime()).toBeLessThan(rows[0].processed_at.getTime());
}
