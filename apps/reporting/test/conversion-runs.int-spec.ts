/**
 * Conversions published in runs (ConversionsReceived: up to 100 conversions ingest's relay read together per event,
 * its payload the members' ConversionReceived bytes one after another) on real Postgres, NATS and gRPC: each
 * conversion of a run is received once, and the reconciliation report's received side counts it once, whichever
 * events carry it — a lone ConversionReceived (Nats-Msg-Id = the row id), a run, a run re-cut another way (another
 * id), a re-driven copy of a run (same event id) — an adjustment applied between a run and its re-cut copy stands
 * (the copy carries the conversion as first stored), runs and lone events applied together in one transaction count
 * the same way, and an empty run is refused like any poison event.
 */
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import { ManualClock } from '@trackly/kernel';
import { durableName, EVENT_ID_HEADER, Events, runId, Streams } from '@trackly/messaging';
import { eventually, testInfra } from '@trackly/testing';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { expectAppliedInOneTransaction, processedEvents } from './one-pull';
import { ReportingTestApp } from './reporting-test-app';

jest.setTimeout(60_000);

const at = (iso: string) => new Date(iso);
const { CONVERSION_STATUS_APPROVED: APPROVED, CONVERSION_STATUS_PENDING: PENDING, CONVERSION_STATUS_REVERSED: REVERSED } = ConversionStatus;
const INGEST_DURABLE = durableName('reporting', Streams.ingest);
/** A conversion as ingest stores it (row id `row-<conversion id>`), not yet decided. */
const received = (partnerId: string, conversionId: string, currencyCode: string, micros: number, status: ConversionStatus, occurredAt: string, test = false): Conversion =>
  Conversion.fromPartial({
    id: `row-${conversionId}`, partnerId, conversionId, clickId: `k-${conversionId}`, payout: { currencyCode, amountMicros: String(micros) }, status,
    occurredAt: at(occurredAt), receivedAt: at(occurredAt), attributionState: AttributionState.ATTRIBUTION_STATE_PENDING, test,
  });
/** The id ingest gives a run of these conversions (a digest of their row ids, in order). */
const runIdOf = (cs: Conversion[]) => runId('conversion-run', cs.map((c) => c.id));
const n = (count: number, micros: number, currencyCode = 'USD') => ({ count: String(count), amount: { currencyCode, amountMicros: String(micros) } });
/** A reconciliation row of conversions received and not decided (reporting has no decisions in this spec). */
const undecidedRow = (partnerId: string, date: string, currencyCode: string, rec: ReturnType<typeof n>, pendingStatus: ReturnType<typeof n>, test: ReturnType<typeof n>) => {
  const zero = n(0, 0, currencyCode);
  return {
    partnerId, date, currencyCode, received: rec, receivedPendingStatus: pendingStatus, credited: zero, reversed: zero, unattributed: [], pending: rec,
    receivedDirect: zero, creditedOverCap: zero, held: zero, test,
  };
};

describe('reporting: conversions in runs (real Postgres, NATS, gRPC)', () => {
  let t: ReportingTestApp;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let pg: Client;

  /** Publishes bytes as ingest's relay (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = async (subject: string, data: Uint8Array, msgID: string, eventId?: string): Promise<void> => {
    const h = natsHeaders();
    if (eventId) h.set(EVENT_ID_HEADER, eventId);
    await js.publish(`${t.prefix}.${subject}`, data, { msgID, headers: h });
  };
  const bytes = (c: Conversion) => Events.ConversionReceived.codec.encode({ conversion: c }).finish();
  /** A conversion the relay read alone: Nats-Msg-Id = its row id. */
  const lone = (c: Conversion) => publish(Events.ConversionReceived.subject, bytes(c), c.id);
  /**
   * A run as ingest's relay publishes it: its members' ConversionReceived bytes joined, id = runIdOf. `redrive` publishes
   * a re-driven copy (its own Nats-Msg-Id, the run's id as Trackly-Event-Id).
   */
  const run = (cs: Conversion[], redrive = false) => {
    const id = runIdOf(cs);
    return publish(Events.ConversionsReceived.subject, Buffer.concat(cs.map(bytes)), redrive ? `redrive:${id}` : id, redrive ? id : undefined);
  };
  const processed = (ids: string[]) => processedEvents(pg, INGEST_DURABLE, ids);
  /** Waits until each of these events has its processed-event record, and returns them. */
  const appliedAll = (ids: string[]) =>
    eventually(async () => {
      const r = await processed(ids);
      return r.length === new Set(ids).size ? r : undefined;
    }, 20_000);
  /** The partner's received conversions as stored: [id, micros, currency, status, test]. */
  const stored = async (partnerId: string) =>
    (
      await pg.query(`SELECT conversion_id, payout_micros::text, currency, status, test FROM "reporting".received_conversions WHERE partner_id = $1 ORDER BY conversion_id`, [
        partnerId,
      ])
    ).rows.map((r: { conversion_id: string; payout_micros: string; currency: string; status: string; test: boolean }) => [
      r.conversion_id, r.payout_micros, r.currency, r.status, r.test,
    ]);
  const reconciliation = async (partnerId: string, includeTest = false) =>
    (await t.client.getReconciliationReport({ fromDate: '2026-05-01', toDate: '2026-05-31', timeZone: 'UTC', partnerId, includeTest })).rows;
  const ingestConsumer = async () => (await jetstreamManager(nc)).consumers.info(`${t.prefix.toUpperCase()}_${Streams.ingest.name}`, INGEST_DURABLE);

  beforeAll(async () => {
    t = await ReportingTestApp.start({ clock: new ManualClock(at('2026-06-01T00:00:00Z')) });
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    pg = new Client({ connectionString: t.db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await nc?.close();
    await t?.close();
  });

  it('receives each conversion once, and reconciles it once, whichever runs, re-cut runs, lone events and re-driven copies carry it', async () => {
    const a = [
      received('pa', 'a1', 'USD', 10_000_000, APPROVED, '2026-05-05T10:00:00Z'),
      received('pa', 'a2', 'USD', 2_000_000, PENDING, '2026-05-05T11:00:00Z'),
      received('pa', 'a3', 'USD', 7_000_000, APPROVED, '2026-05-05T12:00:00Z'),
      received('pa', 'a4', 'USD', 1_500_000, APPROVED, '2026-05-05T13:00:00Z', true), // a test conversion: counted only with include_test
      received('pa', 'a5', 'EUR', 5_000_000, APPROVED, '2026-05-06T08:00:00Z'),
      received('pa', 'a6', 'EUR', 3_000_000, APPROVED, '2026-05-06T09:00:00Z'),
    ];
    await lone(a[1]); // the relay read it alone
    await run(a.slice(0, 4));
    await run(a.slice(2, 6)); // after a crash the relay cut the same rows another way: another id, a3 and a4 received already
    await run(a.slice(0, 4), true); // a re-driven copy of the first run
    await lone(a[5]);
    expect(await appliedAll([a[1].id, runIdOf(a.slice(0, 4)), runIdOf(a.slice(2, 6)), a[5].id])).toHaveLength(4);
    // The re-driven copy was recognised as the first run (no record of its own).
    expect(await processed([`redrive:${runIdOf(a.slice(0, 4))}`])).toEqual([]);
    expect(await stored('pa')).toEqual([
      ['a1', '10000000', 'USD', 'approved', false], ['a2', '2000000', 'USD', 'pending', false], ['a3', '7000000', 'USD', 'approved', false],
      ['a4', '1500000', 'USD', 'approved', true], ['a5', '5000000', 'EUR', 'approved', false], ['a6', '3000000', 'EUR', 'approved', false],
    ]);
    expect(await reconciliation('pa')).toEqual([
      undecidedRow('pa', '2026-05-05', 'USD', n(3, 19_000_000), n(1, 2_000_000), n(0, 0)),
      undecidedRow('pa', '2026-05-06', 'EUR', n(2, 8_000_000, 'EUR'), n(0, 0, 'EUR'), n(0, 0, 'EUR')),
    ]);
    expect(await reconciliation('pa', true)).toEqual([
      undecidedRow('pa', '2026-05-05', 'USD', n(4, 20_500_000), n(1, 2_000_000), n(1, 1_500_000)),
      undecidedRow('pa', '2026-05-06', 'EUR', n(2, 8_000_000, 'EUR'), n(0, 0, 'EUR'), n(0, 0, 'EUR')),
    ]);
  });

  it('keeps an adjustment applied between a run and its re-cut copy (the copy carries the conversion as first stored)', async () => {
    const b = [
      received('pb', 'b1', 'USD', 1_000_000, APPROVED, '2026-05-07T10:00:00Z'),
      received('pb', 'b2', 'USD', 4_000_000, APPROVED, '2026-05-07T11:00:00Z'),
      received('pb', 'b3', 'USD', 2_000_000, APPROVED, '2026-05-07T12:00:00Z'),
    ];
    await run(b.slice(0, 2));
    const adjusted = { ...b[1], status: REVERSED, payout: { currencyCode: 'USD', amountMicros: '6000000' } };
    await publish(
      Events.ConversionAdjusted.subject,
      Events.ConversionAdjusted.codec
        .encode({ conversion: adjusted, previousStatus: APPROVED, previousPayout: b[1].payout, adjustmentId: 'adj-b2', cause: 'reversal' })
        .finish(),
      'adj-b2',
    );
    await run(b.slice(1, 3)); // a re-drive reads the rows' stored ConversionReceived: b2 as first received
    await lone(b[0]);
    await appliedAll([runIdOf(b.slice(0, 2)), 'adj-b2', runIdOf(b.slice(1, 3)), b[0].id]);
    expect(await stored('pb')).toEqual([['b1', '1000000', 'USD', 'approved', false], ['b2', '6000000', 'USD', 'reversed', false], ['b3', '2000000', 'USD', 'approved', false]]);
    expect(await reconciliation('pb')).toEqual([undecidedRow('pb', '2026-05-07', 'USD', n(3, 9_000_000), n(0, 0), n(0, 0))]);
  });

  it('applies overlapping runs and lone repeats delivered together in one transaction, each conversion received once', async () => {
    const c = [0, 1, 2, 3, 4, 5, 6].map((i) => received('pc', `c${i}`, 'USD', (i + 1) * 1_000_000, i === 3 ? PENDING : APPROVED, `2026-05-08T1${i}:00:00Z`));
    // A session holding SHARE on received_conversions: c0's group waits on its insert while the events behind it gather.
    const locker = new Client({ connectionString: t.db.url });
    await locker.connect();
    let locked = false;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "reporting".received_conversions IN SHARE MODE`);
      locked = true;
      await lone(c[0]);
      await eventually(async () => (await pg.query(`SELECT 1 FROM pg_locks WHERE relation = '"reporting".received_conversions'::regclass AND NOT granted`)).rows.length > 0, 20_000);
      // Two overlapping runs back to back (one handler call: c2 and c3 twice in it), lone repeats, a re-driven copy.
      const events: [string, () => Promise<void>][] = [
        [runIdOf(c.slice(1, 4)), () => run(c.slice(1, 4))],
        [runIdOf(c.slice(2, 6)), () => run(c.slice(2, 6))],
        [c[2].id, () => lone(c[2])],
        [c[6].id, () => lone(c[6])],
        [runIdOf(c.slice(1, 4)), () => run(c.slice(1, 4), true)],
        [runIdOf(c.slice(4, 7)), () => run(c.slice(4, 7))],
      ];
      await expectAppliedInOneTransaction({
        pg, durable: INGEST_DURABLE, blockerId: c[0].id, events, consumer: ingestConsumer,
        release: async () => {
          await locker.query('COMMIT');
          locked = false;
        },
      });
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }
    expect((await stored('pc')).map(([id]) => id)).toEqual(['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    // 1 + 2 + … + 7 USD, c3's 4 USD pending.
    expect(await reconciliation('pc')).toEqual([undecidedRow('pc', '2026-05-08', 'USD', n(7, 28_000_000), n(1, 4_000_000), n(0, 0))]);
    expect((await pg.query(`SELECT reason FROM "reporting".dead_letters`)).rows).toEqual([]);
  });

  // Last: the refused run is redelivered with backoff for about two minutes before it is dead-lettered (the 10th
  // delivery: DurableConsumer's maxDeliver), and could share a later group.
  it('refuses an empty run as a poison event: rolled back and redelivered, never applied, the events around it applied', async () => {
    const [e1, e2] = [received('pe', 'e1', 'USD', 1_000_000, APPROVED, '2026-05-09T10:00:00Z'), received('pe', 'e2', 'USD', 2_000_000, APPROVED, '2026-05-09T11:00:00Z')];
    const empty = runIdOf([]);
    await lone(e1);
    await publish(Events.ConversionsReceived.subject, new Uint8Array(0), empty);
    await lone(e2);
    await appliedAll([e1.id, e2.id]);
    expect((await stored('pe')).map(([id]) => id)).toEqual(['e1', 'e2']);
    // Its handler threw: the consumer naks it for a later try rather than acknowledging it.
    await eventually(async () => {
      const info = await ingestConsumer();
      return info.num_pending === 0 && info.num_redelivered === 1 && info.num_ack_pending === 1;
    }, 20_000);
    expect(await processed([empty])).toEqual([]);
    expect((await pg.query(`SELECT reason FROM "reporting".dead_letters`)).rows).toEqual([]);
  });
});
