/**
 * Conversions published in runs (ConversionsReceived: up to 100 conversions ingest's relay read together per event,
 * its payload the members' ConversionReceived bytes one after another) reaching attribution's decisions on real
 * Postgres and NATS: each conversion is decided once, with one event, whichever events carry it — a lone
 * ConversionReceived (Nats-Msg-Id = the row id), a run, a run re-cut another way (another id, conversions already
 * decided), a re-driven copy of a run (same event id) — a conversion whose click is known is credited to that click's
 * message and one whose click is unknown is parked, also when runs and lone events with repeats are applied in one
 * transaction; an empty run is refused like any poison event (rolled back, redelivered, never applied).
 */
import { Client } from 'pg';
import { connect } from '@nats-io/transport-node';
import { headers as natsHeaders, NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, JetStreamClient } from '@nats-io/jetstream';
import { RunningService } from '@trackly/app-shell';
import { ManualClock, MS_PER_DAY } from '@trackly/kernel';
import { durableName, EVENT_ID_HEADER, Events, runId, Streams } from '@trackly/messaging';
import { eventually, testInfra } from '@trackly/testing';
import type { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { Offer } from '@trackly/contracts/tracking/v1/tracking';
import { AttributionTestEnv, humanClick, pendingConversion } from './attribution-test-env';

jest.setTimeout(60_000);

const T0 = new Date('2026-06-01T10:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const INGEST_DURABLE = durableName('attribution', Streams.ingest);
/** A conversion an hour after T0 naming `clickId` (each test's clicks are one per contact: the named click is the first). */
const conversion = (conversionId: string, clickId: string): Conversion => pendingConversion(conversionId, clickId, at(3_600_000));
/** The id ingest gives a run of these conversions (a digest of their row ids, in order). */
const runIdOf = (cs: Conversion[]) => runId('conversion-run', cs.map((c) => c.id));

describe('attribution: conversions in runs (real Postgres and NATS)', () => {
  const clock = new ManualClock(at(MS_PER_DAY));
  let env: AttributionTestEnv;
  let app: RunningService | undefined;
  let pg: Client;
  let nc: NatsConnection;
  let js: JetStreamClient;

  /** Publishes bytes as ingest's relay (or, with `eventId`, a re-drive: Trackly-Event-Id is the original id). */
  const publish = async (subject: string, data: Uint8Array, msgID: string, eventId?: string): Promise<void> => {
    const h = natsHeaders();
    if (eventId) h.set(EVENT_ID_HEADER, eventId);
    await js.publish(`${env.prefix}.${subject}`, data, { msgID, headers: h });
  };
  const received = (c: Conversion) => Events.ConversionReceived.codec.encode({ conversion: c }).finish();
  /** A conversion the relay read alone: Nats-Msg-Id = its row id. */
  const lone = (c: Conversion) => publish(Events.ConversionReceived.subject, received(c), c.id);
  /**
   * A run as ingest's relay publishes it: its members' ConversionReceived bytes joined, id = runIdOf. `redrive` publishes
   * a re-driven copy (its own Nats-Msg-Id, the run's id as Trackly-Event-Id).
   */
  const run = (cs: Conversion[], redrive = false) => {
    const id = runIdOf(cs);
    return publish(Events.ConversionsReceived.subject, Buffer.concat(cs.map(received)), redrive ? `redrive:${id}` : id, redrive ? id : undefined);
  };
  /** Clicks for these ids, one contact each, projected before the conversions naming them come. */
  const clicks = async (ids: string[]) => {
    for (const [i, id] of ids.entries()) {
      await publish(Events.ClickRecorded.subject, Events.ClickRecorded.codec.encode({ click: humanClick(id, at(i * 1000), { offerId: 'o1', contactId: `contact-${id}` }) }).finish(), id);
    }
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".clicks WHERE click_id = ANY($1::text[])`, [ids])).rows.length === ids.length, 20_000);
  };
  const processed = async (ids: string[]) =>
    (await pg.query(`SELECT event_id, xmin::text AS xid FROM "attribution".processed_events WHERE consumer = $1 AND event_id = ANY($2::text[])`, [INGEST_DURABLE, ids]))
      .rows as { event_id: string; xid: string }[];
  /** Waits until each of these events has its processed-event record, and returns them. */
  const appliedAll = (ids: string[]) =>
    eventually(async () => {
      const r = await processed(ids);
      return r.length === new Set(ids).size ? r : undefined;
    }, 20_000);
  const decisions = async (prefix: string) =>
    (
      await pg.query(
        `SELECT conversion_id, outcome, reason, credited_click_id, message_id, xmin::text AS xid FROM "attribution".decisions WHERE conversion_id LIKE $1 ORDER BY conversion_id`,
        [`${prefix}%`],
      )
    ).rows as { conversion_id: string; outcome: string; reason: string | null; credited_click_id: string | null; message_id: string | null; xid: string }[];
  const parked = async (prefix: string) =>
    (await pg.query(`SELECT conversion_id, click_id, xmin::text AS xid FROM "attribution".parked_conversions WHERE conversion_id LIKE $1 ORDER BY conversion_id`, [`${prefix}%`]))
      .rows as { conversion_id: string; click_id: string; xid: string }[];
  /** Every decision-side event in attribution's outbox about these conversions, as "Type conversionId", sorted. */
  const emitted = async (prefix: string) => {
    const types = [Events.ConversionAttributed, Events.ConversionUnattributed, Events.ConversionParked, Events.ConversionSettled];
    const { rows } = await pg.query(`SELECT subject, payload FROM "attribution".outbox WHERE subject = ANY($1::text[])`, [types.map((t) => t.subject)]);
    return rows
      .map((o: { subject: string; payload: Buffer }) => {
        const type = types.find((t) => t.subject === o.subject)!;
        const e = type.codec.decode(o.payload) as { conversionId?: string; attribution?: { conversionId: string } };
        return `${type.subject.split('.').pop()} ${e.attribution?.conversionId ?? e.conversionId}`;
      })
      .filter((s) => s.split(' ')[1].startsWith(prefix))
      .sort();
  };
  const credited = (id: string, clickId: string) => ({ conversion_id: id, outcome: 'ATTRIBUTED', reason: null, credited_click_id: clickId, message_id: `m-${clickId}` });
  const ingestConsumer = async () => (await jetstreamManager(nc)).consumers.info(`${env.prefix.toUpperCase()}_${Streams.ingest.name}`, INGEST_DURABLE);

  beforeAll(async () => {
    env = await AttributionTestEnv.open();
    pg = env.pg;
    nc = await connect({ servers: testInfra().natsUrl });
    js = jetstream(nc);
    // A horizon far beyond the test: nothing parked is settled by the timer (tracking is nowhere anyway).
    ({ app } = await env.start({ ATTRIBUTION_PARK_HORIZON_SECONDS: '3600' }, clock));
    await publish(
      Events.OfferUpserted.subject,
      Events.OfferUpserted.codec.encode({ offer: Offer.fromPartial({ offerId: 'o1', name: 'o1', clickWindowDays: 30, updatedAt: T0 }) }).finish(),
      'offer-o1',
    );
    await eventually(async () => (await pg.query(`SELECT 1 FROM "attribution".offers WHERE offer_id = 'o1'`)).rows.length === 1, 20_000);
  });

  afterAll(async () => {
    await app?.close();
    await nc?.close();
    await env?.close();
  });

  it('decides each conversion once, with one event, whichever runs, re-cut runs, lone events and re-driven copies carry it', async () => {
    await clicks(['ka1', 'ka2', 'ka3', 'ka4', 'ka5']);
    // a6 names a click attribution has not seen: parked, not decided.
    const a = [1, 2, 3, 4, 5].map((i) => conversion(`a${i}`, `ka${i}`)).concat(conversion('a6', 'ka-unseen'));
    await lone(a[1]); // the relay read it alone
    await run(a.slice(0, 4));
    await run(a.slice(2, 6)); // after a crash the relay cut the same rows another way: another id, a3 and a4 decided already
    await run(a.slice(0, 4), true); // a re-driven copy of the first run
    await lone(a[5]);
    const records = await appliedAll([a[1].id, runIdOf(a.slice(0, 4)), runIdOf(a.slice(2, 6)), a[5].id]);
    // Each event applied under its own id; the re-driven copy was recognised as the first run (no record of its own).
    expect(records).toHaveLength(4);
    expect(await processed([`redrive:${runIdOf(a.slice(0, 4))}`])).toEqual([]);
    expect((await decisions('a')).map(({ xid: _, ...d }) => d)).toEqual([1, 2, 3, 4, 5].map((i) => credited(`a${i}`, `ka${i}`)));
    expect((await parked('a')).map((p) => [p.conversion_id, p.click_id])).toEqual([['a6', 'ka-unseen']]);
    expect(await emitted('a')).toEqual(['ConversionAttributed a1', 'ConversionAttributed a2', 'ConversionAttributed a3', 'ConversionAttributed a4', 'ConversionAttributed a5', 'ConversionParked a6']);
    expect((await pg.query(`SELECT reason FROM "attribution".dead_letters`)).rows).toEqual([]);
  });

  it('applies overlapping runs and lone repeats delivered together in one transaction: each conversion decided once, with one event', async () => {
    await clicks(['kb0', 'kb1', 'kb2', 'kb3', 'kb4', 'kb5']);
    const b = [1, 2, 3, 4, 5].map((i) => conversion(`b${i}`, `kb${i}`)).concat(conversion('b6', 'kb-unseen'));
    // A session holding SHARE on decisions: the blocker's group waits on its insert while the events behind it gather.
    const locker = new Client({ connectionString: env.db.url });
    await locker.connect();
    let locked = false;
    try {
      await locker.query('BEGIN');
      await locker.query(`LOCK TABLE "attribution".decisions IN SHARE MODE`);
      locked = true;
      const blocker = conversion('b0', 'kb0');
      await lone(blocker);
      await eventually(async () => (await pg.query(`SELECT 1 FROM pg_locks WHERE relation = '"attribution".decisions'::regclass AND NOT granted`)).rows.length > 0, 20_000);
      // Two overlapping runs back to back (one handler call: b2 and b3 twice in it), lone repeats, a re-driven copy.
      const events: [string, () => Promise<void>][] = [
        [runIdOf(b.slice(0, 3)), () => run(b.slice(0, 3))],
        [runIdOf(b.slice(1, 6)), () => run(b.slice(1, 6))],
        [b[1].id, () => lone(b[1])],
        [b[4].id, () => lone(b[4])],
        [runIdOf(b.slice(0, 3)), () => run(b.slice(0, 3), true)],
        [b[5].id, () => lone(b[5])],
      ];
      for (const [, p] of events) await p();
      await eventually(async () => {
        const info = await ingestConsumer();
        return info.num_pending === 0 && info.num_ack_pending === 1 + events.length;
      }, 20_000);
      await locker.query('COMMIT');
      locked = false;
      const rows = await appliedAll(events.map(([id]) => id));
      // One transaction for the five events (all decisions and the park in it), another one for the blocker before them.
      const xids = new Set(rows.map((r) => r.xid));
      expect(xids.size).toBe(1);
      const [tx] = xids;
      const [blockerRecord] = await processed([blocker.id]);
      expect(blockerRecord.xid).not.toBe(tx);
      const decided = await decisions('b');
      expect(decided.map(({ xid: _, ...d }) => d)).toEqual([
        credited('b0', 'kb0'), ...[1, 2, 3, 4, 5].map((i) => credited(`b${i}`, `kb${i}`)),
      ]);
      expect(decided.filter((d) => d.conversion_id !== 'b0').every((d) => d.xid === tx)).toBe(true);
      expect(await parked('b')).toEqual([{ conversion_id: 'b6', click_id: 'kb-unseen', xid: tx }]);
    } finally {
      if (locked) await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await emitted('b')).toEqual([
      'ConversionAttributed b0', 'ConversionAttributed b1', 'ConversionAttributed b2', 'ConversionAttributed b3', 'ConversionAttributed b4',
      'ConversionAttributed b5', 'ConversionParked b6',
    ]);
    expect((await pg.query(`SELECT reason FROM "attribution".dead_letters`)).rows).toEqual([]);
  });

  // Last: the refused run is redelivered with backoff for about two minutes before it is dead-lettered (the 10th
  // delivery: DurableConsumer's maxDeliver, covered in libs/messaging's consumer spec), and could share a later group.
  it('refuses an empty run as a poison event: rolled back and redelivered, never applied, the events around it applied', async () => {
    await clicks(['kc1', 'kc2']);
    const [c1, c2] = [conversion('c1', 'kc1'), conversion('c2', 'kc2')];
    const empty = runIdOf([]);
    await lone(c1);
    await publish(Events.ConversionsReceived.subject, new Uint8Array(0), empty);
    await lone(c2);
    await appliedAll([c1.id, c2.id]);
    expect((await decisions('c')).map(({ xid: _, ...d }) => d)).toEqual([credited('c1', 'kc1'), credited('c2', 'kc2')]);
    // Its handler threw: the consumer naks it for a later try rather than acknowledging it.
    await eventually(async () => {
      const info = await ingestConsumer();
      return info.num_pending === 0 && info.num_redelivered === 1 && info.num_ack_pending === 1;
    }, 20_000);
    expect(await processed([empty])).toEqual([]);
    expect((await pg.query(`SELECT reason FROM "attribution".dead_letters`)).rows).toEqual([]);
  });
});
