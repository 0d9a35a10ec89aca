import { DataSource } from 'typeorm';
import { dataSourceOptions, textArrayParam } from '@trackly/database';
import { createTestDatabase, TestDatabase } from '@trackly/testing';

describe('textArrayParam (real Postgres)', () => {
  let db: TestDatabase;
  let ds: DataSource;

  beforeAll(async () => {
    db = await createTestDatabase('textarray', [], async () => undefined);
    ds = new DataSource(dataSourceOptions({ url: db.url, schema: 'public', entities: [], migrations: [], poolSize: 1 }));
    await ds.initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const roundTrip = async (values: string[]) => {
    const rows: { v: string }[] = await ds.query(`SELECT unnest($1::text[]) AS v`, [textArrayParam(values)]);
    return rows.map((r) => r.v);
  };

  it('is the array literal when nothing needs escaping, and Postgres reads back every element as it was', async () => {
    const values = ['0193a0c4-5e7f-7b1a-9c3d-2f1e0a9b8c7d', 'TRACKLY_TRACKING_V1:42', '', 'NULL', 'a,b', '{x}', ' spaced ', 'tab\there', 'café'];
    expect(typeof textArrayParam(values)).toBe('string');
    expect(await roundTrip(values)).toEqual(values);
  });

  it('is the empty array for no values (not one empty string)', async () => {
    expect(await roundTrip([])).toEqual([]);
    expect(await roundTrip([''])).toEqual(['']);
  });

  it('sends null elements as NULL, not as empty strings', async () => {
    const values = ['a', null, ''];
    const rows: { v: string | null }[] = await ds.query(`SELECT unnest($1::text[]) AS v`, [textArrayParam(values)]);
    expect(rows.map((r) => r.v)).toEqual(['a', null, '']);
  });

  it('escapes quotes and backslashes element by element, as pg would', async () => {
    const values = ['plain', 'a"b', 'back\\slash', '\\"'];
    expect(typeof textArrayParam(values)).toBe('string');
    expect(await roundTrip(values)).toEqual(values);
  });
});
