/**
 * A postback is answered only after the one transaction holding its raw archive row, its conversion (or refusal),
 * its event and its archive outcome committed, so killing the edge mid-load loses nothing answered and leaves nothing
 * half-written: the built ingest app (a real child process, group commit on) takes 1,000 concurrent postbacks (new
 * conversions, repeats, invalid ones, wrong tokens), is killed with SIGKILL once half are answered, and then every
 * answered request is archived with the outcome it was answered with, every 200 has its conversion and event row,
 * every refusal its PostbackRefused, and no archive row is left without an outcome. After a restart every refusal is
 * on the stream exactly once and every conversion is, alone in a ConversionReceived or in a ConversionsReceived run
 * (rows past the relay's cursor are published by the next relay; rows published but not yet passed by the saved
 * cursor go out again, dropped by the stream's duplicate window when cut into the same events, else carried again,
 * the same conversion byte for byte).
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createGrpcClient } from '@trackly/grpc';
import { Events, Streams } from '@trackly/messaging';
import { ChildApp, testInfra } from '@trackly/testing';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { ingestMigrations } from '../src/migrations';
import { migrateIngest } from '../src/ingest.app';
import { partnerRequest } from './ingest-test-app';
import { carriedConversions, conversionsPublished, notAsRelayed } from './conversions-published';

jest.setTimeout(240_000);

const N = 1000;

type Kind = 'new' | 'repeat' | 'invalid' | 'bad-token';

describe('ingest killed with SIGKILL while answering 1,000 postbacks', () => {
  let app: ChildApp;
  const count = (sql: string, params: unknown[] = []) => app.count(sql, params);

  beforeAll(async () => {
    app = await ChildApp.create({
      app: 'ingest',
      migrations: ingestMigrations,
      migrate: migrateIngest,
      env: {
        INGEST_GROUP_COMMIT: 'true',
        // Every request comes from this one address: the wrong tokens must not get it limited.
        INGEST_NOISE_BURST: '100000',
        LOG_LEVEL: 'error',
      },
    });
  });

  afterAll(() => app?.close());

  it('archives every answered request with its outcome, stores every 200, and publishes every event after a restart, no event id twice', async () => {
    const first = await app.start();
    const client = createGrpcClient(IngestServiceService, first.grpc!, { deadlineMs: 30_000 });
    let token: string;
    try {
      token = (await client.upsertPartner(partnerRequest('crash-net'))).token;
    } finally {
      client.close();
    }
    // The PartnerUpserted is published before the load, so only the load's events are in flight at the kill.
    await app.outboxDrained(30_000);

    // Per ten requests: six new conversions, two repeats (same content) of one of them, one invalid, one wrong token.
    const kindOf = (i: number): Kind => (['new', 'new', 'new', 'new', 'new', 'new', 'repeat', 'invalid', 'bad-token', 'repeat'] as const)[i % 10];
    const keyOf = (i: number) => (kindOf(i) === 'repeat' ? i - (i % 10) : i);
    const url = (i: number, kind: Kind) => {
      const base = `${first.http}/postbacks/crash-net?click_id=clk-${keyOf(i)}&payout=1.50&currency=USD`;
      if (kind === 'invalid') return `${base}&token=${token}`; // no conversion_id: 400
      if (kind === 'bad-token') return `${base}&conversion_id=c-${i}&token=wrong`;
      return `${base}&conversion_id=c-${keyOf(i)}&token=${token}`;
    };
    const answers: { i: number; kind: Kind; status: number; body: { status?: string; id?: string; conversion_id?: string } }[] = [];
    let killed: Promise<void> | undefined;
    const kill = () => (killed ??= app.kill(first));
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const kind = kindOf(i);
        try {
          const res = await fetch(url(i, kind));
          const body = (await res.json()) as (typeof answers)[number]['body'];
          answers.push({ i, kind, status: res.status, body });
          if (answers.length >= N / 2) kill();
        } catch {
          // Cut off by the kill: never answered, so the partner retries it.
        }
      }),
    );
    await kill();
    expect(answers.length).toBeGreaterThanOrEqual(N / 2);

    // Each answer is what its request deserved.
    const expected: Record<Kind, number> = { new: 200, repeat: 200, invalid: 400, 'bad-token': 401 };
    expect(answers.filter((a) => a.status !== expected[a.kind])).toEqual([]);

    // Nothing half-written: every archived request has its outcome (archive row and outcome commit together).
    expect(await count(`SELECT count(*) AS n FROM "ingest".postback_requests WHERE outcome IS NULL`)).toBe(0);
    // Every conversion an archive row names exists (the reference has no foreign key: it holds by construction).
    expect(
      await count(`SELECT count(*) AS n FROM "ingest".postback_requests a
        WHERE a.conversion_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "ingest".conversions c WHERE c.id = a.conversion_ref)`),
    ).toBe(0);
    const archived = await app.pg.query<{ conversion_id: string | null; outcome: string; reason_code: string | null; conversion_ref: string | null }>(
      `SELECT substring(query from 'conversion_id=([^&]*)') AS conversion_id, outcome, reason_code, conversion_ref
       FROM "ingest".postback_requests`,
    );
    expect(archived.rows.length).toBeGreaterThanOrEqual(answers.length);
    // Every 200: the conversion, its archive row with the answered outcome, and its ConversionReceived.
    const ok = answers.filter((a) => a.status === 200);
    const stored = ok.filter((a) => a.body.status === 'stored');
    expect(stored.length).toBeGreaterThan(0);
    expect(ok.every((a) => a.body.status === 'stored' || a.body.status === 'duplicate')).toBe(true);
    const ids = ok.map((a) => a.body.id!);
    expect(await count(`SELECT count(DISTINCT id) AS n FROM "ingest".conversions WHERE id = ANY($1::uuid[])`, [ids])).toBe(new Set(ids).size);
    // Per conversion, every outcome answered is archived (a request cut off by the kill may be archived unanswered).
    const tally = (pairs: [string | null, string][]) => {
      const m = new Map<string, number>();
      for (const [k, o] of pairs) m.set(`${k} ${o}`, (m.get(`${k} ${o}`) ?? 0) + 1);
      return m;
    };
    const archivedTally = tally(archived.rows.map((r) => [r.conversion_id, r.outcome]));
    const answeredTally = tally(ok.map((a) => [`c-${keyOf(a.i)}`, a.body.status!]));
    expect([...answeredTally].filter(([k, n]) => (archivedTally.get(k) ?? 0) < n)).toEqual([]);
    expect(archived.rows.filter((r) => r.outcome === 'stored' || r.outcome === 'duplicate').every((r) => r.conversion_ref !== null)).toBe(true);
    const conversions = await count(`SELECT count(*) AS n FROM "ingest".conversions`);
    expect(conversions).toBeGreaterThanOrEqual(stored.length);
    // Each conversion row is the source of its ConversionReceived (no outbox row beside it).
    expect(await count(`SELECT count(*) AS n FROM "ingest".conversions WHERE xid IS NOT NULL AND received_event IS NOT NULL`)).toBe(conversions);
    expect(await count(`SELECT count(*) AS n FROM "ingest".outbox WHERE subject = $1`, [Events.ConversionReceived.subject])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM "ingest".postback_requests WHERE outcome = 'stored'`)).toBe(conversions);
    // Every refusal answered is archived as such, with its PostbackRefused.
    const answeredRefusals = { invalid: answers.filter((a) => a.status === 400).length, unauthorized: answers.filter((a) => a.status === 401).length };
    const archivedRefusals = {
      invalid: archived.rows.filter((r) => r.outcome === 'invalid').length,
      unauthorized: archived.rows.filter((r) => r.outcome === 'unauthorized').length,
    };
    expect(archivedRefusals.invalid).toBeGreaterThanOrEqual(answeredRefusals.invalid);
    expect(archivedRefusals.unauthorized).toBeGreaterThanOrEqual(answeredRefusals.unauthorized);
    expect(archived.rows.filter((r) => r.outcome === 'unauthorized').every((r) => r.reason_code === 'BAD_TOKEN')).toBe(true);
    const refusedEvents = await count(`SELECT count(*) AS n FROM "ingest".outbox WHERE subject = $1`, [Events.PostbackRefused.subject]);
    expect(refusedEvents).toBe(archivedRefusals.invalid + archivedRefusals.unauthorized);

    // After a restart the relay publishes what the dead one had not.
    await app.start();
    await app.outboxDrained(60_000);
    await conversionsPublished(app.db.url, 60_000);
    // Each conversion as its row announces it: the ConversionReceived stored with it at insert.
    const sources = new Map(
      (await app.pg.query<{ id: string; received_event: Buffer }>(`SELECT id::text, received_event FROM "ingest".conversions`)).rows.map((r) => [
        r.id,
        r.received_event.toString('hex'),
      ]),
    );
    expect(sources.size).toBe(conversions);
    const nc = await connect({ servers: testInfra().natsUrl });
    try {
      const js = jetstream(nc);
      const jsm = await jetstreamManager(nc);
      const stream = `${app.prefix.toUpperCase()}_${Streams.ingest.name}`;
      const onStream = async (subject: string) => {
        const s = `${app.prefix}.${subject}`;
        return (await jsm.streams.info(stream, { subjects_filter: s })).state.subjects?.[s] ?? 0;
      };
      expect(await onStream(Events.PostbackRefused.subject)).toBe(refusedEvents);

      // Every conversion on the stream: alone in a ConversionReceived or in a ConversionsReceived run (the server
      // predates filter_subjects lists: the whole stream is read and the conversion subjects flattened).
      const expected = (await jsm.streams.info(stream)).state.messages;
      expect(expected).toBeGreaterThan(0);
      const consumer = await js.consumers.get(stream);
      // Each conversion's copies on the stream: the subject that carried it and its ConversionReceived encoding.
      const copies = new Map<string, { subject: string; bytes: string }[]>();
      const msgIds: string[] = [];
      const notRelayed: string[] = [];
      let read = 0;
      while (read < expected) {
        const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
        for await (const m of batch) {
          read++;
          const carried = carriedConversions(app.prefix, m);
          if (!carried) continue; // the partner's PartnerUpserted, the PostbackRefused events (counted above)
          msgIds.push(m.headers?.get('Nats-Msg-Id') ?? '');
          // A conversion alone has its row id as Nats-Msg-Id, a run (2 to 100) the digest of its row ids.
          notRelayed.push(...notAsRelayed(carried));
          for (const c of carried) {
            const list = copies.get(c.conversion.id) ?? [];
            list.push({ subject: c.subject, bytes: Buffer.from(ConversionReceived.encode({ conversion: c.conversion }).finish()).toString('hex') });
            copies.set(c.conversion.id, list);
          }
        }
      }
      expect(notRelayed).toEqual([]);
      expect([...copies.keys()].sort()).toEqual([...sources.keys()].sort());
      // Wherever a conversion is carried again, it is the same conversion, byte for byte: the one its row announces.
      expect([...copies.values()].filter((l) => new Set(l.map((c) => c.bytes)).size > 1)).toEqual([]);
      expect([...copies].filter(([id, l]) => l.some((c) => c.bytes !== sources.get(id)))).toEqual([]);
      // A republish of the same event is dropped by the stream's duplicate window: no id twice. A conversion may still
      // be carried twice, in a run the restarted relay cut otherwise (it re-reads from its last saved cursor and sees
      // more rows at once than the reads before the kill); consumers apply it once by its key.
      expect(msgIds.length).toBe(new Set(msgIds).size);
    } finally {
      await nc.close();
    }
  });
});
