import { Client } from 'pg';
import { ManualClock } from '@trackly/kernel';
import { eventually } from '@trackly/testing';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { repeatVerdict } from '../domain/conversion-adjustment';
import { statusFromWord } from '../domain/conversion.rules';
import { Events } from '@trackly/messaging';
import { ConversionReceived } from '@trackly/contracts/ingest/v1/ingest_events';
import { IngestTestApp, partnerRequest, startIngestForTest } from '../../test/ingest-test-app';

/** A partner's conversion rows that are the source of their ConversionReceived (ConversionEventsRelay). */
async function eventSources(t: IngestTestApp, partner: string): Promise<number> {
  const { rows } = await t.pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = $1 AND xid IS NOT NULL AND received_event IS NOT NULL`, [partner]);
  return rows[0].n;
}

interface Answer {
  status: string;
  id: string;
}

/**
 * Group commit of stored postbacks: a window long enough that concurrent postbacks share one batch, whose
 * conversions, repeats (duplicates and adjustments decided in arrival order) and archive outcomes are written by a
 * few set statements. Each answer must still say what became of its request, and the archive and events agree.
 */
describe('postback group commit: repeats within one batch (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  let token: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startIngestForTest({ INGEST_GROUP_COMMIT: 'true', INGEST_GROUP_COMMIT_WINDOW_MS: '100' }, clock);
    token = (await t.client.upsertPartner(partnerRequest('batch'))).token;
  });

  afterAll(async () => {
    await t?.close();
  });

  const postback = async (query: string): Promise<{ status: number; body: Answer }> => {
    const res = await fetch(`${t.base}/postbacks/batch?${query}&token=${token}`);
    return { status: res.status, body: (await res.json()) as Answer };
  };

  it('stores the first of a key, adjusts or dedupes the repeats, and records each outcome with its events', async () => {
    const payouts = ['1.00', '1.00', '2.00', '2.00', '3.00'];
    const answers = await Promise.all([
      ...payouts.map((p) => postback(`conversion_id=same-1&payout=${p}&currency=USD`)),
      postback('conversion_id=other-1&payout=5.00&currency=USD'),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const same = answers.slice(0, payouts.length).map((a) => a.body);
    expect(same.filter((a) => a.status === 'stored')).toHaveLength(1);
    expect(new Set(same.map((a) => a.id)).size).toBe(1);
    const adjusted = same.filter((a) => a.status === 'adjusted').length;
    // Whichever came first, a later one with another payout changed it.
    expect(adjusted).toBeGreaterThanOrEqual(1);
    expect(answers[payouts.length].body.status).toBe('stored');

    const archive = await t.pg.query(`SELECT outcome, conversion_ref FROM "ingest".postback_requests WHERE partner_id = 'batch' ORDER BY id`);
    expect(archive.rows.map((r) => r.outcome).sort()).toEqual(answers.map((a) => a.body.status).sort());
    expect(archive.rows.filter((r) => r.conversion_ref === same[0].id)).toHaveLength(payouts.length);

    const adjustments = await t.pg.query(`SELECT payout_micros::text AS p FROM "ingest".conversion_adjustments WHERE conversion_ref = $1 ORDER BY adjusted_at, id`, [same[0].id]);
    expect(adjustments.rows).toHaveLength(adjusted);
    const events = await t.pg.query(`SELECT subject, count(*)::int AS n FROM "ingest".outbox GROUP BY subject`);
    const count = (subject: string) => events.rows.find((r) => r.subject === subject)?.n ?? 0;
    // Each new conversion row is the source of its ConversionReceived (no outbox row); adjustments are outbox rows.
    expect(count(Events.ConversionReceived.subject)).toBe(0);
    expect(await eventSources(t, 'batch')).toBe(2);
    // The event announces the conversion as first stored, whatever the adjustments in the batch made of the row since.
    const firstPayout = payouts[same.findIndex((a) => a.status === 'stored')];
    const { rows: [source] } = await t.pg.query(`SELECT received_event FROM "ingest".conversions WHERE id = $1`, [same[0].id]);
    expect(ConversionReceived.decode(source.received_event).conversion).toMatchObject({
      id: same[0].id,
      conversionId: 'same-1',
      payout: { currencyCode: 'USD', amountMicros: String(Math.round(Number(firstPayout) * 1e6)) },
    });
    expect(count(Events.ConversionAdjusted.subject)).toBe(adjusted);
    const stored = await t.pg.query(`SELECT count(*)::int AS n FROM "ingest".conversions WHERE partner_id = 'batch'`);
    expect(stored.rows[0].n).toBe(2);
  });

  it('answers a repeat of a conversion stored before the batch as a duplicate of it, next to new ones', async () => {
    const first = await postback('conversion_id=before-1&payout=4.00&currency=USD');
    expect(first.body.status).toBe('stored');
    const answers = await Promise.all([
      postback('conversion_id=before-1&payout=4.00&currency=USD'),
      postback('conversion_id=new-1&payout=4.00&currency=USD'),
      postback('conversion_id=new-2&payout=4.00&currency=USD'),
    ]);
    expect(answers.map((a) => [a.status, a.body.status])).toEqual([
      [200, 'duplicate'],
      [200, 'stored'],
      [200, 'stored'],
    ]);
    expect(answers[0].body.id).toBe(first.body.id);
    const row = await t.pg.query(`SELECT outcome, reason_code FROM "ingest".postback_requests WHERE partner_id = 'batch' AND conversion_ref = $1 ORDER BY id`, [first.body.id]);
    expect(row.rows).toEqual([
      { outcome: 'stored', reason_code: null },
      { outcome: 'duplicate', reason_code: 'SAME_CONTENT' },
    ]);
  });

  it('stores a key sent several times in one batch once, the others its duplicates, without a change in between', async () => {
    const answers = await Promise.all([1, 2, 3].map(() => postback('conversion_id=thrice-1&payout=7.00&currency=USD')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(answers.map((a) => a.body.status).sort()).toEqual(['duplicate', 'duplicate', 'stored']);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    const archive = await t.pg.query(`SELECT outcome, reason_code, conversion_ref FROM "ingest".postback_requests WHERE query LIKE '%thrice-1%' ORDER BY outcome`);
    expect(archive.rows).toEqual([
      { outcome: 'duplicate', reason_code: 'SAME_CONTENT', conversion_ref: answers[0].body.id },
      { outcome: 'duplicate', reason_code: 'SAME_CONTENT', conversion_ref: answers[0].body.id },
      { outcome: 'stored', reason_code: null, conversion_ref: answers[0].body.id },
    ]);
    expect((await t.pg.query(`SELECT count(*)::int AS n FROM "ingest".conversion_adjustments WHERE conversion_ref = $1`, [answers[0].body.id])).rows[0].n).toBe(0);
  });

  it('answers a repeat of a conversion another transaction commits while the batch waits for it as a duplicate of that row', async () => {
    // Another writer holds the key uncommitted: the batch's insert waits for it, and its snapshot (taken before) has no
    // row for the key, so the repeat's row must be read again once the batch's statement is done.
    const other = new Client({ connectionString: t.db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      const { rows: [held] } = await other.query(
        `INSERT INTO "ingest".conversions (partner_id, conversion_id, payout_micros, currency, status, occurred_at, received_at)
         VALUES ('batch', 'held-1', 6000000, 'USD', 'APPROVED', now(), now()) RETURNING id`,
      );
      const answers = Promise.all([postback('conversion_id=held-1&payout=6.00&currency=USD'), postback('conversion_id=held-2&payout=6.00&currency=USD')]);
      // The batch (a 100 ms window) is written and waits on the held key; nothing is answered meanwhile.
      await eventually(async () => {
        const { rows } = await t.pg.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`);
        return rows[0].n > 0;
      }, 10_000, 50);
      await other.query('COMMIT');
      const [held1, held2] = await answers;
      expect([held1.status, held1.body.status, held1.body.id]).toEqual([200, 'duplicate', held.id]);
      expect([held2.status, held2.body.status]).toEqual([200, 'stored']);
      const archive = await t.pg.query(`SELECT outcome, conversion_ref FROM "ingest".postback_requests WHERE partner_id = 'batch' AND query LIKE '%held-1%'`);
      expect(archive.rows).toEqual([{ outcome: 'duplicate', conversion_ref: held.id }]);
    } finally {
      await other.end();
    }
  });

  it('decides a repeat as the domain rule does, whether the batch statement or the locked path decides it', async () => {
    // The lockless statement decides duplicates in SQL (INTAKE_LOCKLESS_SQL) and leaves the rest to the locked path,
    // which applies repeatVerdict: every combination of stored and repeated status, payout and currency, each repeat
    // in a batch of its own, must get repeatVerdict's answer and reason.
    const statuses = ['approved', 'pending', 'reversed'];
    const cases = statuses.flatMap((stored) =>
      statuses.flatMap((repeat) =>
        [false, true].flatMap((otherPayout) => [false, true].map((otherCurrency) => ({ stored, repeat, otherPayout, otherCurrency }))),
      ),
    );
    const micros = (p: string) => BigInt(Math.round(Number(p) * 1e6));
    const stored = await Promise.all(cases.map((c, i) => postback(`conversion_id=rule-${i}&payout=2.00&currency=USD&status=${c.stored}`)));
    expect(stored.map((a) => a.body.status)).toEqual(cases.map(() => 'stored'));
    for (const [i, c] of cases.entries()) {
      const payout = c.otherPayout ? '3.00' : '2.00';
      const currency = c.otherCurrency ? 'EUR' : 'USD';
      const answer = await postback(`conversion_id=rule-${i}&payout=${payout}&currency=${currency}&status=${c.repeat}`);
      const verdict = repeatVerdict(
        { status: statusFromWord(c.stored)!, payout: { currency: 'USD', micros: micros('2.00') } },
        { status: statusFromWord(c.repeat)!, payout: { currency, micros: micros(payout) } },
        ConversionStatus.CONVERSION_STATUS_REVERSED,
      );
      expect({ case: c, answer: answer.body.status }).toEqual({ case: c, answer: verdict.kind });
      const { rows } = await t.pg.query(`SELECT outcome, reason FROM "ingest".postback_requests WHERE query LIKE $1 ORDER BY id`, [`%conversion_id=rule-${i}&%`]);
      expect({ case: c, archived: rows[1] }).toEqual({ case: c, archived: { outcome: verdict.kind, reason: verdict.kind === 'duplicate' ? verdict.reason : 'status or payout changed' } });
    }
  });

  it('decides repeats of a stored conversion in arrival order when the batch both repeats and changes it', async () => {
    const first = await postback('conversion_id=mixed-1&payout=1.00&currency=USD');
    expect(first.body.status).toBe('stored');
    // Identical and changed repeats of one stored key in one batch: an identical one that arrives after a change is
    // an adjustment back, never a duplicate of the state before the batch.
    const payouts = ['1.00', '2.00', '1.00', '1.00', '3.00', '3.00'];
    const answers = await Promise.all(payouts.map((p) => postback(`conversion_id=mixed-1&payout=${p}&currency=USD`)));
    expect(answers.map((a) => a.status)).toEqual(payouts.map(() => 200));
    expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set([first.body.id]));

    // Archive ids are drawn in arrival order: replay the rule over them and compare with what was recorded.
    const archive = await t.pg.query(
      `SELECT query, outcome, conversion_ref FROM "ingest".postback_requests WHERE partner_id = 'batch' AND query LIKE '%mixed-1%' ORDER BY id`,
    );
    expect(archive.rows).toHaveLength(payouts.length + 1);
    let state = '';
    const expected = archive.rows.map((r: { query: string }) => {
      const payout = new URLSearchParams(r.query).get('payout')!;
      const outcome = !state ? 'stored' : payout === state ? 'duplicate' : 'adjusted';
      state = payout;
      return outcome;
    });
    expect(archive.rows.map((r: { outcome: string }) => r.outcome)).toEqual(expected);
    expect(archive.rows.every((r: { conversion_ref: string }) => r.conversion_ref === first.body.id)).toBe(true);
    expect(answers.map((a) => a.body.status).sort()).toEqual(expected.slice(1).sort());
    const row = await t.pg.query(`SELECT payout_micros::text AS p FROM "ingest".conversions WHERE id = $1`, [first.body.id]);
    expect(row.rows[0].p).toBe(String(Number(state) * 1_000_000));
  });

  it('stores a JSON postback whose unread parameter holds a lone surrogate, as U+FFFD in its raw parameters', async () => {
    // The batch goes to Postgres as JSON, which refuses a lone surrogate's escape: jsonParam writes U+FFFD, as the
    // UTF-8 encoding of the former array parameters did. The archive keeps the body as the partner sent it.
    const { token: own } = await t.client.upsertPartner(partnerRequest('surrogate'));
    const body = JSON.stringify({ conversion_id: 'sur-1', payout: '1.00', currency: 'USD', note: 'a\ud800' });
    expect(body).toContain('\\ud800');
    const res = await fetch(`${t.base}/postbacks/surrogate?token=${own}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Answer).status).toBe('stored');
    const { rows: [c] } = await t.pg.query(`SELECT raw->>'note' AS note FROM "ingest".conversions WHERE partner_id = 'surrogate' AND conversion_id = 'sur-1'`);
    expect(c.note).toBe('a\ufffd');
    const { rows: [a] } = await t.pg.query(`SELECT outcome, body FROM "ingest".postback_requests WHERE partner_id = 'surrogate'`);
    expect(a).toEqual({ outcome: 'stored', body });
  });

  it('writes a batch that failed as a whole one by one: the others stored, the failing one archived as an error', async () => {
    // A row Postgres refuses (here a trigger's exception) fails the batch's statement; its requests are then written
    // one at a time, all at once, on the intake's connections.
    await t.pg.query(`CREATE FUNCTION "ingest".test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.conversion_id = 'poison-1' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`);
    await t.pg.query(`CREATE TRIGGER test_poison BEFORE INSERT ON "ingest".conversions FOR EACH ROW EXECUTE FUNCTION "ingest".test_poison()`);
    try {
      const started = Date.now();
      const ids = ['one-1', 'poison-1', 'one-2', 'one-3', 'one-4'];
      const answers = await Promise.all(ids.map((id) => fetch(`${t.base}/postbacks/batch?conversion_id=${id}&payout=1.00&currency=USD&token=${token}`)));
      expect(answers.map((a) => a.status)).toEqual([200, 500, 200, 200, 200]);
      // Not after a connect timeout (5 s): each write got a connection as one was handed back.
      expect(Date.now() - started).toBeLessThan(4000);
      const { rows } = await t.pg.query(`SELECT a.query, a.outcome, a.reason_code FROM "ingest".postback_requests a
        WHERE a.partner_id = 'batch' AND a.query LIKE '%-1&%' AND (a.query LIKE 'conversion_id=one-1%' OR a.query LIKE 'conversion_id=poison-1%') ORDER BY a.query`);
      expect(rows.map((r) => [r.query.split('&')[0], r.outcome, r.reason_code])).toEqual([
        ['conversion_id=one-1', 'stored', null],
        ['conversion_id=poison-1', 'error', 'STORE_FAILED'],
      ]);
    } finally {
      await t.pg.query(`DROP TRIGGER test_poison ON "ingest".conversions`);
      await t.pg.query(`DROP FUNCTION "ingest".test_poison()`);
    }
  });

  it('drops an intake connection the server closed while it was kept between batches: the next postback is stored, not 503', async () => {
    expect((await postback('conversion_id=kept-1&payout=1.00&currency=USD')).status).toBe(200);
    // The connection the batch used is kept (checked out, idle) for the next batch; the server ends it, as a restart would.
    const { rows } = await t.pg.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
      WHERE datname = current_database() AND application_name LIKE '%-intake' AND state = 'idle'`);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    await eventually(async () => {
      const { rows: left } = await t.pg.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE '%-intake'`);
      return left[0].n === 0 || undefined;
    }, 10_000, 20);
    await new Promise((r) => setTimeout(r, 100)); // the client's error event reaches the intake
    const next = await postback('conversion_id=kept-2&payout=1.00&currency=USD');
    expect(next).toMatchObject({ status: 200, body: { status: 'stored' } });
  });
});

/** With group commit off every request is a batch of one: the same single transaction, the same outcomes and events. */
describe('postbacks with group commit off (real Postgres, NATS, HTTP)', () => {
  jest.setTimeout(120_000);
  let t: IngestTestApp;
  let token: string;
  const clock = new ManualClock(new Date('2026-11-02T10:00:00Z'));

  beforeAll(async () => {
    t = await startIngestForTest({ INGEST_GROUP_COMMIT: 'false' }, clock);
    token = (await t.client.upsertPartner(partnerRequest('single'))).token;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('stores, dedupes and refuses each request in a transaction of its own, archived with its outcome and event', async () => {
    const get = (q: string) => fetch(`${t.base}/postbacks/single?${q}`).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
    const stored = await get(`conversion_id=one-1&payout=1.00&currency=USD&token=${token}`);
    const again = await get(`conversion_id=one-1&payout=1.00&currency=USD&token=${token}`);
    const invalid = await get(`payout=1.00&currency=USD&token=${token}`);
    const wrong = await get('conversion_id=one-2&payout=1.00&currency=USD&token=nope');
    expect([stored.status, stored.body.status, again.status, again.body.status, invalid.status, wrong.status]).toEqual([200, 'stored', 200, 'duplicate', 400, 401]);
    const archive = await t.pg.query(`SELECT outcome, reason_code, conversion_ref FROM "ingest".postback_requests WHERE partner_id = 'single' ORDER BY id`);
    expect(archive.rows).toEqual([
      { outcome: 'stored', reason_code: null, conversion_ref: stored.body.id },
      { outcome: 'duplicate', reason_code: 'SAME_CONTENT', conversion_ref: stored.body.id },
      { outcome: 'invalid', reason_code: 'INVALID_FIELDS', conversion_ref: null },
      { outcome: 'unauthorized', reason_code: 'BAD_TOKEN', conversion_ref: null },
    ]);
    const events = await t.pg.query(`SELECT subject, count(*)::int AS n FROM "ingest".outbox GROUP BY subject`);
    const count = (subject: string) => events.rows.find((r) => r.subject === subject)?.n ?? 0;
    expect(count(Events.ConversionReceived.subject)).toBe(0);
    expect(await eventSources(t, 'single')).toBe(1);
    expect(count(Events.PostbackRefused.subject)).toBe(2);
  });
});
