/**
 * Conversions in runs through the real relay: a burst of concurrent postbacks (group commit on, the default) is
 * stored in a few transactions and read by ConversionEventsRelay a batch at a time, so it goes out as
 * ConversionsReceived runs, fewer messages than conversions, each conversion once and exactly as its row announces
 * it; a postback that comes alone afterwards is still a ConversionReceived with its row id and its request's id.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Streams } from '@trackly/messaging';
import { testInfra } from '@trackly/testing';
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { CarriedConversion, carriedConversions, conversionsPublished, notAsRelayed } from './conversions-published';
import { IngestTestApp, partnerRequest, PostbackAnswer, registerPartners, startIngestForTest } from './ingest-test-app';

const BURST = 300;

describe('conversions in runs (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  let nc: NatsConnection;
  let tokens: Record<string, string>;

  beforeAll(async () => {
    t = await startIngestForTest({});
    nc = await connect({ servers: testInfra().natsUrl });
    tokens = await registerPartners(t.client, [partnerRequest('burst-net'), partnerRequest('lone-net')]);
  });

  afterAll(async () => {
    await nc?.close();
    await t?.close();
  });

  const postback = async (partner: string, query: string, requestId: string) => {
    const res = await fetch(`${t.base}/postbacks/${partner}?${query}&token=${tokens[partner]}`, { headers: { 'x-request-id': requestId } });
    return { status: res.status, body: (await res.json()) as PostbackAnswer };
  };

  /** Every conversion on the ingest stream (the whole stream read), with the stream sequence of the message carrying it. */
  async function onStream(): Promise<(CarriedConversion & { seq: number })[]> {
    const stream = `${t.prefix.toUpperCase()}_${Streams.ingest.name}`;
    const expected = (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
    const consumer = await jetstream(nc).consumers.get(stream); // ephemeral ordered consumer
    const out: (CarriedConversion & { seq: number })[] = [];
    let read = 0;
    while (read < expected) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 2000 });
      for await (const m of batch) {
        read++;
        for (const c of carriedConversions(t.prefix, m) ?? []) out.push({ ...c, seq: m.seq });
      }
    }
    return out;
  }

  /** Each conversion row's ConversionReceived as stored at insert (hex), by row id. */
  async function sources(partner: string): Promise<Map<string, string>> {
    const { rows } = await t.pg.query<{ id: string; received_event: Buffer }>(
      `SELECT id::text, received_event FROM "ingest".conversions WHERE partner_id = $1`,
      [partner],
    );
    return new Map(rows.map((r) => [r.id, r.received_event.toString('hex')]));
  }

  const encoded = (c: CarriedConversion) => Buffer.from(ConversionReceived.encode({ conversion: c.conversion }).finish()).toString('hex');

  it('publishes a burst of concurrent postbacks as ConversionsReceived runs: fewer messages than conversions, each once', async () => {
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, i) => postback('burst-net', `conversion_id=b-${i}&click_id=clk-${i}&payout=1.${String(i % 100).padStart(2, '0')}`, `burst-${i}`)),
    );
    expect(answers.map((a) => [a.status, a.body.status])).toEqual(answers.map(() => [200, 'stored']));
    const ids = answers.map((a) => a.body.id!);
    expect(new Set(ids).size).toBe(BURST);
    await conversionsPublished(t.db.url, 30_000);

    const carried = (await onStream()).filter((c) => c.conversion.partnerId === 'burst-net');
    // Each conversion once, no other: a consumer sees each exactly once whichever event carries it.
    expect(carried.map((c) => c.conversion.id).sort()).toEqual([...ids].sort());
    expect(carried.map((c) => c.conversion.conversionId).sort()).toEqual(ids.map((_, i) => `b-${i}`).sort());
    // Carried as its row announces it, byte for byte.
    const stored = await sources('burst-net');
    expect(carried.filter((c) => encoded(c) !== stored.get(c.conversion.id)).map((c) => c.conversion.id)).toEqual([]);
    // Read together: fewer messages than conversions, in runs of 2 to 100 (id = the digest of their row ids, no
    // request id: the rows keep the requests' headers).
    const messages = new Set(carried.map((c) => c.seq));
    expect(messages.size).toBeLessThan(BURST);
    expect(carried.filter((c) => c.subject === 'ConversionsReceived').length).toBeGreaterThan(0);
    expect(notAsRelayed(carried)).toEqual([]);
    // A conversion that went alone still carries its own request's id.
    const alone = carried.filter((c) => c.subject === 'ConversionReceived');
    expect(alone.filter((c) => c.requestId !== `burst-${ids.indexOf(c.conversion.id)}`)).toEqual([]);
  });

  it('publishes a lone postback after the burst as a ConversionReceived: its row id, its request id', async () => {
    const lone = await postback('lone-net', 'conversion_id=lone-1&click_id=clk-lone&payout=2.50', 'lone-req-1');
    expect(lone).toMatchObject({ status: 200, body: { status: 'stored', conversion_id: 'lone-1' } });
    await conversionsPublished(t.db.url, 30_000);

    const carried = (await onStream()).filter((c) => c.conversion.partnerId === 'lone-net');
    expect(carried).toEqual([
      expect.objectContaining({ subject: 'ConversionReceived', msgId: lone.body.id, requestId: 'lone-req-1', event: [lone.body.id] }),
    ]);
    expect(carried[0].conversion).toMatchObject({ id: lone.body.id, conversionId: 'lone-1', clickId: 'clk-lone', payout: { currencyCode: 'USD', amountMicros: '2500000' } });
    expect(encoded(carried[0])).toBe((await sources('lone-net')).get(lone.body.id!));
  });
});
