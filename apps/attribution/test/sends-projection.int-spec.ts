/**
 * The sends projection's batch write on real Postgres: a blast-sized batch goes in by a plain INSERT under a
 * savepoint, and falls back to ON CONFLICT DO NOTHING when a send is stored already, so every send is stored once,
 * the first write stands, and the rest of the caller's transaction (processed-event records) is kept either way.
 */
import { DataSource } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@trackly/testing';
import type { MessageSent } from '@trackly/contracts/tracking/v1/tracking_events';
import { attributionMigrations } from '../src/migrations';
import { migrateAttribution } from '../src/attribution.app';
import { ProjectionsRepository } from '../src/projections/projections.repository';

jest.setTimeout(60_000);

const T0 = new Date('2026-06-01T10:00:00.123Z');
const send = (i: number, over: Partial<MessageSent> = {}): MessageSent => ({
  messageId: `m-${i}`, contactId: `c-${i}`, phoneMasked: '', campaignId: `camp-${i % 3}`, creativeId: `cr-${i % 7}`, offerId: `o-${i % 2}`,
  sentAt: new Date(T0.getTime() + i * 1001), ...over,
});

describe('sends projection, a batch at a time', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const repo = new ProjectionsRepository();

  beforeAll(async () => {
    db = await createTestDatabase('attribution', attributionMigrations, (u) => migrateAttribution(u).then(() => undefined));
    ds = new DataSource({ type: 'postgres', url: db.url });
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  beforeEach(() => ds.query(`TRUNCATE "attribution".sends, "attribution".processed_events`));

  const rows = () =>
    ds.query(`SELECT message_id, contact_id, offer_id, campaign_id, creative_id, sent_at FROM "attribution".sends ORDER BY message_id`) as Promise<
      { message_id: string; contact_id: string; offer_id: string; campaign_id: string; creative_id: string; sent_at: Date }[]
    >;

  /** The batch written as a consumer writes it: a processed-event record first, then the sends, in one transaction. */
  const apply = (sends: MessageSent[]) =>
    ds.transaction(async (m) => {
      await m.query(`INSERT INTO "attribution".processed_events (consumer, event_id) VALUES ('spec', $1)`, [`batch-${sends.length}`]);
      await repo.saveSends(m, sends);
    });

  it('stores a blast-sized batch once: sends stored before and repeats inside the batch keep the first write, odd text survives', async () => {
    // Stored before under other events (a re-drive after their processed-event records were pruned): first write stands.
    await apply(Array.from({ length: 10 }, (_, k) => send(k * 20, { contactId: `first-${k * 20}` })));
    const batch = Array.from({ length: 200 }, (_, i) => send(i));
    batch[5] = send(5, { contactId: 'o"brien\\x', campaignId: 'a,b{c}', creativeId: ' ', offerId: 'NULL' });
    batch.push(send(7, { contactId: 'repeat' }), send(8, { contactId: 'repeat' })); // the same messages again in the batch
    await apply(batch);

    const stored = await rows();
    expect(stored).toHaveLength(200);
    const byId = new Map(stored.map((r) => [r.message_id, r]));
    for (let k = 0; k < 10; k++) expect(byId.get(`m-${k * 20}`)?.contact_id).toBe(`first-${k * 20}`);
    expect(byId.get('m-5')).toMatchObject({ contact_id: 'o"brien\\x', campaign_id: 'a,b{c}', creative_id: ' ', offer_id: 'NULL' });
    expect(byId.get('m-7')?.contact_id).toBe('c-7');
    expect(byId.get('m-199')).toMatchObject({ contact_id: 'c-199', offer_id: 'o-1', campaign_id: 'camp-1', creative_id: 'cr-3' });
    expect(byId.get('m-199')!.sent_at.toISOString()).toBe(new Date(T0.getTime() + 199 * 1001).toISOString());
    // The processed-event records written before the sends committed with them in both batches.
    expect((await ds.query(`SELECT event_id FROM "attribution".processed_events ORDER BY event_id`)).map((r: { event_id: string }) => r.event_id)).toEqual(['batch-10', 'batch-202']);
  });

  it('stores a small batch with a send stored before', async () => {
    await apply([send(1, { contactId: 'first' })]);
    await apply([send(1), send(2), send(2, { contactId: 'again' })]);
    expect((await rows()).map((r) => [r.message_id, r.contact_id])).toEqual([
      ['m-1', 'first'],
      ['m-2', 'c-2'],
    ]);
  });

  it('refuses a send without a time, as the column does', async () => {
    await expect(apply(Array.from({ length: 100 }, (_, i) => send(i, i === 50 ? { sentAt: undefined } : {})))).rejects.toThrow(/sent_at/);
    expect(await rows()).toHaveLength(0);
  });
});
