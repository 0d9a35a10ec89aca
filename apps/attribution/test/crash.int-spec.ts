/**
 * A consumer crash mid-batch: the built attribution app (a real child process) is killed with SIGKILL while it is
 * deciding a stream of conversions (with duplicates), then started again. Nothing may be lost and nothing counted
 * twice: one decision per conversion, one ConversionAttributed event per conversion on the stream, an empty outbox.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Events, Streams } from '@trackly/messaging';
import { ChildApp, eventually, testInfra } from '@trackly/testing';
import { ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import { ClickRecorded } from '@trackly/contracts/tracking/v1/tracking_events';
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { AttributionState } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionAttributed } from '@trackly/contracts/attribution/v1/attribution_events';
import { attributionMigrations } from '../src/migrations';
import { migrateAttribution } from '../src/attribution.app';

jest.setTimeout(180_000);

// Several of the consumer's groups (up to 500 for the first pull, 1,000 behind a backlog): the kill lands between commits.
const N = 2_000;

describe('attribution killed with SIGKILL mid-stream', () => {
  let app: ChildApp;
  const count = (sql: string) => app.count(sql);

  beforeAll(async () => {
    app = await ChildApp.create({ app: 'attribution', migrations: attributionMigrations, migrate: migrateAttribution, env: { METRICS_PORT: '0' } });
  });

  afterAll(() => app?.close());

  it('loses nothing and counts nothing twice', async () => {
    const first = await app.start();
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      // The app creates the streams at start-up.
      await eventually(async () => count(`SELECT count(*) AS n FROM "attribution".migrations`).then((n) => n > 0), 30_000, 200);
      const jsm = await jetstreamManager(nc);
      await eventually(async () => !!(await jsm.streams.info(`${app.prefix.toUpperCase()}_${Streams.ingest.name}`).catch(() => undefined)), 30_000, 200);

      const at = (m: number) => new Date(Date.UTC(2026, 10, 2, 10, m));
      const clicks: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) {
        const click = {
          clickId: `click${i}`, messageId: `msg-${i}`, contactId: `contact-${i}`, offerId: 'offer', campaignId: 'camp', creativeId: 'cr',
          clickedAt: at(0), firstClickOnMessage: true, userAgent: 'test', messageSentAt: at(0),
          clickClass: ClickClass.CLICK_CLASS_HUMAN, classificationReason: '', classifierVersion: '',
        };
        clicks.push(js.publish(`${app.prefix}.${Events.ClickRecorded.subject}`, ClickRecorded.encode({ click }).finish(), { msgID: `click-evt-${i}` }));
      }
      await Promise.all(clicks);
      await eventually(() => count(`SELECT count(*) AS n FROM "attribution".clicks`).then((n) => n === N), 60_000, 100);

      // Every conversion once, and a fifth of them again under another event id (a redelivery after the dedupe window).
      const publishes: Promise<unknown>[] = [];
      const publishConversion = (i: number) => {
        const conversion = {
          id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, partnerId: 'partner', conversionId: `conv-${i}`, clickId: `click${i}`,
          payout: { currencyCode: 'USD', amountMicros: '1000000' }, status: ConversionStatus.CONVERSION_STATUS_APPROVED,
          occurredAt: at(60), receivedAt: at(60), attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
          attributionReason: '', creditedMessageId: '', messageId: '',
        };
        const data = ConversionReceived.encode({ conversion }).finish();
        publishes.push(js.publish(`${app.prefix}.${Events.ConversionReceived.subject}`, data, { msgID: `conv-evt-${i}` }));
        if (i % 5 === 0) publishes.push(js.publish(`${app.prefix}.${Events.ConversionReceived.subject}`, data, { msgID: `conv-evt-${i}-again` }));
      };
      // Half first; the kill comes while the other half is still being published, so it always lands mid-stream
      // (a fast consumer decided all of one published whole before a poll could see it half done).
      for (let i = 0; i < N / 2; i++) publishConversion(i);
      await eventually(() => count(`SELECT count(*) AS n FROM "attribution".decisions`).then((n) => n >= 20), 60_000, 5);
      for (let i = N / 2; i < N; i++) publishConversion(i);
      await app.kill(first);
      await Promise.all(publishes);
      const atKill = await count(`SELECT count(*) AS n FROM "attribution".decisions`);
      expect(atKill).toBeLessThan(N);

      await app.start();
      await eventually(() => count(`SELECT count(*) AS n FROM "attribution".decisions`).then((n) => n === N), 90_000, 100);
      await app.outboxDrained(30_000);
      expect(await count(`SELECT count(*) AS n FROM "attribution".decisions WHERE outcome = 'ATTRIBUTED'`)).toBe(N);

      // The stream holds exactly one ConversionAttributed per conversion.
      const stream = `${app.prefix.toUpperCase()}_${Streams.attribution.name}`;
      const seen = new Map<string, number>();
      const consumer = await js.consumers.get(stream);
      const expected = (await jsm.streams.info(stream)).state.messages;
      let read = 0;
      while (read < expected) {
        const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
        for await (const m of batch) {
          read++;
          if (m.subject.endsWith('ConversionAttributed')) {
            const id = ConversionAttributed.decode(m.data).attribution!.conversionId;
            seen.set(id, (seen.get(id) ?? 0) + 1);
          }
        }
      }
      expect(seen.size).toBe(N);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await nc.close();
    }
  });
});
