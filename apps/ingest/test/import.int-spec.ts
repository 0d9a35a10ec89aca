import { Readable } from 'node:stream';
import { status } from '@grpc/grpc-js';
import { Client } from 'pg';
import { PromiseClient } from '@trackly/grpc';
import { ManualClock } from '@trackly/kernel';
import { Events } from '@trackly/messaging';
import { IngestServiceService } from '@trackly/contracts/ingest/v1/ingest_service';
import { PartnerKind } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionsImported } from '@trackly/contracts/ingest/v1/ingest_events';
import { IngestTestApp, startIngestForTest } from './ingest-test-app';
import { importCsv } from '../src/cli/import-client';

/** CSV import over the client-streaming RPC, through the same client the CLI uses. */
describe('ingest CSV import (real Postgres, NATS, gRPC client stream)', () => {
  let t: IngestTestApp;
  let client: PromiseClient<typeof IngestServiceService>;
  let pg: Client;
  let grpcUrl: string;
  let httpBase: string;
  const clock = new ManualClock(new Date('2026-11-10T12:00:00Z'));
  let token = '';

  beforeAll(async () => {
    t = await startIngestForTest({}, clock);
    ({ client, pg, grpc: grpcUrl, base: httpBase } = t);
    const base = { name: '', clickIdParam: '', allowedSources: [] };
    token = (await client.upsertPartner({ ...base, partnerId: 'net', kind: PartnerKind.PARTNER_KIND_GENERIC, defaultCurrency: 'EUR' })).token;
    await client.upsertPartner({ ...base, partnerId: 'bulk', kind: PartnerKind.PARTNER_KIND_EVERFLOW, defaultCurrency: '' });
  });

  afterAll(async () => {
    await t?.close();
  }, 120_000); // closing publishes what the outbox still holds of the 100,000 events

  /** A file as a stream of chunks of `size` bytes (chunks end anywhere, even inside a line or a character). */
  const chunked = (text: string, size = 7) => {
    const bytes = Buffer.from(text, 'utf8');
    return Readable.from((function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })());
  };

  it('imports 100,000 rows streamed in chunks, refusing the bad lines by line number', async () => {
    const BAD_EVERY = 9_973;
    function* lines() {
      yield 'conversion_id,click_id,payout,currency,status,occurred_at,note\n';
      for (let i = 1; i <= 100_000; i++) {
        if (i % BAD_EVERY === 0) yield `bad-${i},clk-${i},12.3456789,USD,approved,2026-11-09T10:00:00Z,too many decimals\n`;
        else if (i === 50_000) yield `short-${i},clk-${i}\n`;
        else yield `row-${i},clk-${i},${i % 100}.${String(i % 97).padStart(2, '0')},USD,${i % 3 ? 'approved' : 'pending'},2026-11-09T10:00:00Z,"a, quoted ""note"""\n`;
      }
    }
    const file = Readable.from((function* () {
      let buf = '';
      for (const l of lines()) {
        buf += l;
        if (buf.length > 60_000) {
          yield Buffer.from(buf);
          buf = '';
        }
      }
      yield Buffer.from(buf);
    })());
    let progressCalls = 0;
    const result = await importCsv(grpcUrl, 'bulk', file, () => progressCalls++);
    const bad = Math.floor(100_000 / BAD_EVERY) + 1;
    expect(result).toMatchObject({ rows: '100000', stored: String(100_000 - bad), duplicates: '0', adjusted: '0', rejected: String(bad) });
    expect(result.errors).toHaveLength(bad);
    expect(result.errors[0]).toEqual({ line: String(BAD_EVERY + 1), message: expect.stringContaining('payout must be a decimal number with at most 6 decimals') });
    expect(result.errors.find((e) => e.line === '50001')).toEqual({ line: '50001', message: 'has 2 fields, the header has 7' });
    expect(progressCalls).toBeGreaterThan(10);

    const { rows } = await pg.query(
      `SELECT count(*)::int AS n, sum(payout_micros)::text AS total FROM "ingest".conversions WHERE partner_id = 'bulk'`,
    );
    let total = 0n;
    for (let i = 1; i <= 100_000; i++) if (i % BAD_EVERY !== 0 && i !== 50_000) total += BigInt(i % 100) * 1_000_000n + BigInt(i % 97) * 10_000n;
    expect(rows[0]).toEqual({ n: 100_000 - bad, total: total.toString() });
    const { rows: events } = await pg.query(`SELECT count(*)::int AS n FROM "ingest".outbox WHERE subject = $1`, [Events.ConversionReceived.subject]);
    expect(events[0].n).toBe(100_000 - bad);
    const { rows: runs } = await pg.query(`SELECT payload FROM "ingest".outbox WHERE subject = $1 ORDER BY seq`, [Events.ConversionsImported.subject]);
    const run = runs.map((r) => ConversionsImported.decode(r.payload)).find((e) => e.partnerId === 'bulk');
    expect(run).toMatchObject({ rows: '100000', stored: String(100_000 - bad), rejected: String(bad) });
    const { conversion } = await client.getConversion({ partnerId: 'bulk', conversionId: 'row-3' });
    expect(conversion).toMatchObject({ clickId: 'clk-3', payout: { currencyCode: 'USD', amountMicros: '3030000' }, status: ConversionStatus.CONVERSION_STATUS_PENDING });
    expect(conversion!.occurredAt).toEqual(new Date('2026-11-09T10:00:00Z'));
  }, 240_000);

  it('counts a conversion once whether it came by postback or import, and adjusts on a changed status', async () => {
    const post = (q: string) => fetch(`${httpBase}/postbacks/net?${q}&token=${token}`).then(async (r) => ({ status: r.status, body: await r.json() }));
    expect(await post('conversion_id=pb-1&click_id=k1&payout=10')).toMatchObject({ status: 200, body: { status: 'stored' } });
    expect(await post('conversion_id=pb-2&click_id=k2&payout=5&status=pending')).toMatchObject({ status: 200, body: { status: 'stored' } });

    const csv = 'conversion_id,click_id,payout,status\r\npb-1,k1,10.00,approved\r\npb-2,k2,5,approved\r\nim-1,k3,"7,50",pending\r\nim-1,k3,7.5,pending\r\n';
    expect(await importCsv(grpcUrl, 'net', chunked(csv))).toMatchObject({ rows: '4', stored: '1', duplicates: '2', adjusted: '1', rejected: '0', errors: [] });
    expect((await client.getConversion({ partnerId: 'net', conversionId: 'pb-2' })).conversion!.status).toBe(ConversionStatus.CONVERSION_STATUS_APPROVED);
    expect((await client.getConversion({ partnerId: 'net', conversionId: 'im-1' })).conversion!.payout).toEqual({ currencyCode: 'EUR', amountMicros: '7500000' });

    // The same file again, and a postback of an imported conversion: nothing new.
    expect(await importCsv(grpcUrl, 'net', chunked(csv, 3))).toMatchObject({ rows: '4', stored: '0', duplicates: '4', adjusted: '0' });
    expect(await post('conversion_id=im-1&click_id=k3&payout=7.5&status=pending')).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    const { rows } = await pg.query(`SELECT a.cause, a.previous_status, a.status FROM "ingest".conversion_adjustments a JOIN "ingest".conversions c ON c.id = a.conversion_ref WHERE c.partner_id = 'net'`);
    expect(rows).toEqual([{ cause: 'import', previous_status: 'PENDING', status: 'APPROVED' }]);
  });

  it('refuses an unknown partner, a bad header and broken quoting (rows before it stay imported)', async () => {
    await expect(importCsv(grpcUrl, 'nobody', chunked('conversion_id,payout\nx,1\n'))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(importCsv(grpcUrl, 'net', chunked('click_id,amount\nx,1\n'))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('the header must name the columns conversion_id and payout'),
    });
    await expect(importCsv(grpcUrl, 'net', chunked(''))).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringContaining('is empty') });
    await expect(importCsv(grpcUrl, 'net', chunked('conversion_id,payout\nq-1,1\nq-2,"1\n'))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('line 3: a quoted field is not closed'),
    });
    expect((await client.getConversion({ partnerId: 'net', conversionId: 'q-1' })).conversion).toMatchObject({ payout: { amountMicros: '1000000' } });
    await expect(importCsv(grpcUrl, 'net', Readable.from([Buffer.from('conversion_id,payout\n'), Buffer.from([0x61, 0xff, 0x0a])]))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('not UTF-8'),
    });
  });
});
