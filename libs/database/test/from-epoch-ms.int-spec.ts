import { Client } from 'pg';
import { fromEpochMs, jsonParam } from '@trackly/database';
import { createTestDatabase, TestDatabase } from '@trackly/testing';

/** Times carried in a batch's JSON parameter as epoch milliseconds come back as the same instants (real Postgres). */
describe('fromEpochMs (real Postgres)', () => {
  let db: TestDatabase;
  let c: Client;

  beforeAll(async () => {
    db = await createTestDatabase('epochms', [], async () => undefined);
    c = new Client({ connectionString: db.url });
    await c.connect();
    // Not UTC, so a conversion that went through local time would show.
    await c.query(`SET TIME ZONE 'America/St_Johns'`);
  });

  afterAll(async () => {
    await c?.end();
    await db?.drop();
  });

  it('reads each millisecond exactly, before and after 1970 and up to the edge of exactness', async () => {
    const times = [
      new Date('2026-12-07T07:33:04.123Z'),
      new Date('2026-12-07T07:33:04.999Z'),
      new Date('1970-01-01T00:00:00.001Z'),
      new Date('1969-12-31T23:59:59.999Z'),
      new Date('2000-02-29T12:00:00.5Z'),
      new Date('2255-06-01T00:00:00.007Z'),
    ];
    const { rows } = await c.query<{ at: Date; iso: string }>(
      `SELECT ${fromEpochMs('t.ms')} AS at, to_char(${fromEpochMs('t.ms')} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS iso
       FROM json_to_recordset($1::json) AS t(ms bigint, ord int) ORDER BY t.ord`,
      [jsonParam(times.map((d, ord) => ({ ms: d.getTime(), ord })))],
    );
    expect(rows.map((r) => r.at.toISOString())).toEqual(times.map((d) => d.toISOString()));
    // Whole milliseconds in the stored microseconds, not a rounding of them.
    expect(rows.map((r) => r.iso)).toEqual(times.map((d) => d.toISOString().replace('Z', '000')));
  });
});
