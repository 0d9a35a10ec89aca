import type { QueryRunner } from 'typeorm';
import { addPeriods, partitionName, PartitionGranularity, periodStart } from './partition-plan';
import { quoteIdent } from './data-source';

export interface PartitionConversion {
  schema: string;
  table: string;
  /** The timestamptz column to RANGE-partition on (NOT NULL). */
  column: string;
  granularity: PartitionGranularity;
  /** Periods made ahead of the current one (the keeper's default: 7 days or 2 months). */
  ahead?: number;
  /**
   * Periods back from the current one that get a partition each, rows or not (default 120 days or 14 months, which
   * cover the default retentions); older rows go to one `<table>_history` partition, which the keeper drops once it is
   * wholly past the retention.
   */
  history?: number;
  /** "Now" (tests); default the database's clock. */
  now?: Date;
}

interface IndexInfo {
  name: string;
  primary: boolean;
  unique: boolean;
  constraint: string | null;
  columns: string[] | null;
  predicate: string | null;
  def: string;
}

/**
 * Turns a plain table into one RANGE-partitioned on a time column, keeping every row and every column, whatever
 * columns other migrations have added before this one runs: the new parent is `LIKE old INCLUDING ALL EXCLUDING
 * INDEXES`, the rows are copied with `INSERT … SELECT *`, then the old table's indexes and foreign keys are made again
 * on the parent under their old names. A primary key or unique constraint/index that lacks the partition column gets it
 * appended (Postgres requires it); the caller must have made sure that keeps the key's meaning (docs/scaling.md).
 *
 * Partitions: one per period from `history` periods back through `ahead` periods after the current one, a
 * `<table>_history` partition (FROM MINVALUE) for any older rows, and a DEFAULT partition for a row outside them (a
 * clock far off), so no insert is ever refused for want of a partition.
 *
 * Refuses a table that another table's foreign key references (the caller drops such keys first, saying why), and a
 * table with identity columns, triggers or exclusion constraints (serial columns are fine: their sequences move to
 * the new table). The copy holds an ACCESS EXCLUSIVE lock on the table for its duration (measured: docs/scaling.md).
 */
export async function convertToPartitioned(q: QueryRunner, c: PartitionConversion): Promise<{ rows: number; partitions: string[] }> {
  const s = quoteIdent(c.schema);
  const oldName = `${c.table}_unpartitioned`;
  const parent = `${s}.${quoteIdent(c.table)}`;
  const old = `${s}.${quoteIdent(oldName)}`;

  const referencing: { name: string; on: string }[] = await q.query(
    `SELECT conname AS name, conrelid::regclass::text AS on FROM pg_constraint WHERE contype = 'f' AND confrelid = $1::regclass AND conparentid = 0`,
    [parent],
  );
  if (referencing.length) throw new Error(`${c.schema}.${c.table} is referenced by foreign keys (${referencing.map((r) => `${r.on}.${r.name}`).join(', ')}): drop them first`);
  const identity: unknown[] = await q.query(`SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attidentity <> '' AND NOT attisdropped`, [parent]);
  if (identity.length) throw new Error(`${c.schema}.${c.table} has identity columns: not supported`);
  // Neither is copied by LIKE nor made again below: refused rather than silently lost.
  const unsupported: { what: string }[] = await q.query(
    `SELECT 'trigger ' || tgname AS what FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal
     UNION ALL SELECT 'exclusion constraint ' || conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'x'`,
    [parent],
  );
  if (unsupported.length) throw new Error(`${c.schema}.${c.table} has ${unsupported.map((u) => u.what).join(', ')}: not supported`);

  await q.query(`ALTER TABLE ${parent} RENAME TO ${quoteIdent(oldName)}`);

  const indexes: IndexInfo[] = await q.query(
    `SELECT ic.relname AS name, x.indisprimary AS primary, x.indisunique AS unique, con.conname AS constraint,
            CASE WHEN x.indexprs IS NULL THEN (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum) END AS columns,
            pg_get_expr(x.indpred, x.indrelid) AS predicate, pg_get_indexdef(x.indexrelid) AS def
     FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
     LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
     WHERE x.indrelid = $1::regclass ORDER BY x.indisprimary DESC, ic.relname`,
    [old],
  );
  const foreignKeys: { name: string; def: string }[] = await q.query(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname`,
    [old],
  );
  const serials = await serialSequences(q, old);
  const [{ oldRef }]: { oldRef: string }[] = await q.query(`SELECT format('%I.%I', $1::text, $2::text) AS "oldRef"`, [c.schema, oldName]);
  // Index and constraint names are per schema: free them for the new parent (the old table is dropped below).
  for (const i of indexes) {
    if (i.constraint) await q.query(`ALTER TABLE ${old} RENAME CONSTRAINT ${quoteIdent(i.constraint)} TO ${quoteIdent(`${i.constraint}_unpartitioned`)}`);
    else await q.query(`ALTER INDEX ${s}.${quoteIdent(i.name)} RENAME TO ${quoteIdent(`${i.name}_unpartitioned`)}`);
  }

  await q.query(`CREATE TABLE ${parent} (LIKE ${old} INCLUDING ALL EXCLUDING INDEXES) PARTITION BY RANGE (${quoteIdent(c.column)})`);
  for (const x of serials) await q.query(`ALTER SEQUENCE ${x.seq} OWNED BY ${parent}.${quoteIdent(x.col)}`);

  const [span]: { now: Date; oldest: Date | null }[] = await q.query(
    `SELECT coalesce($1::timestamptz, now()) AS now, min(${quoteIdent(c.column)}) AS oldest FROM ${old}`,
    [c.now ?? null],
  );
  const g = c.granularity;
  const current = periodStart(new Date(span.now), g);
  const earliest = addPeriods(current, -(c.history ?? (g === 'day' ? 120 : 14)), g);
  const partitions: string[] = [];
  const create = async (name: string, bound: string) => {
    await q.query(`CREATE TABLE ${s}.${quoteIdent(name)} PARTITION OF ${parent} ${bound}`);
    partitions.push(name);
  };
  if (span.oldest && new Date(span.oldest).getTime() < earliest.getTime()) {
    await create(`${c.table}_history`, `FOR VALUES FROM (MINVALUE) TO ('${earliest.toISOString()}')`);
  }
  // Every period from `history` back exists even when the table holds nothing yet: events re-driven into a rebuilt
  // read model (or replayed late) find their period's partition instead of piling up in the default one. Rows past
  // the periods ahead (a clock far off) go to the default partition rather than make a partition per period up to them.
  const until = addPeriods(current, (c.ahead ?? (g === 'day' ? 7 : 2)) + 1, g);
  for (let p = earliest; p.getTime() < until.getTime(); p = addPeriods(p, 1, g)) {
    await create(partitionName(c.table, p, g), `FOR VALUES FROM ('${p.toISOString()}') TO ('${addPeriods(p, 1, g).toISOString()}')`);
  }
  await create(`${c.table}_default`, 'DEFAULT');

  const [{ n }]: { n: string }[] = await q.query(`WITH ins AS (INSERT INTO ${parent} SELECT * FROM ${old} RETURNING 1) SELECT count(*)::text AS n FROM ins`);
  await q.query(`DROP TABLE ${old}`);

  // Keys after the copy (one index build per partition instead of row-by-row maintenance).
  for (const i of indexes) {
    if (i.unique || i.primary) {
      if (!i.columns) throw new Error(`${c.schema}.${c.table}: unique index ${i.name} on expressions cannot be partitioned`);
      const cols = [...i.columns, ...(i.columns.includes(c.column) ? [] : [c.column])].map(quoteIdent).join(', ');
      if (i.constraint) {
        await q.query(`ALTER TABLE ${parent} ADD CONSTRAINT ${quoteIdent(i.constraint)} ${i.primary ? 'PRIMARY KEY' : 'UNIQUE'} (${cols})`);
      } else {
        await q.query(`CREATE UNIQUE INDEX ${quoteIdent(i.name)} ON ${parent} (${cols})${i.predicate ? ` WHERE ${i.predicate}` : ''}`);
      }
    } else {
      // pg_get_indexdef was read after the rename of the table and before the rename of the index: the original
      // name, on the old table.
      const def = i.def.replace(` ON ${oldRef} USING `, ` ON ${parent} USING `);
      if (def === i.def) throw new Error(`cannot rewrite index definition: ${i.def}`);
      await q.query(def);
    }
  }
  for (const f of foreignKeys) await q.query(`ALTER TABLE ${parent} ADD CONSTRAINT ${quoteIdent(f.name)} ${f.def}`);
  return { rows: Number(n), partitions };
}

/**
 * The reverse (a migration's down): a plain table again, `primaryKey` as its key, the rows copied back; the parent's
 * other indexes are made again as plain ones (unique ones keep the partition column they gained).
 */
export async function convertToUnpartitioned(q: QueryRunner, c: { schema: string; table: string; primaryKey: string[] }): Promise<void> {
  const s = quoteIdent(c.schema);
  const parent = `${s}.${quoteIdent(c.table)}`;
  const tmpName = `${c.table}_plain`;
  const tmp = `${s}.${quoteIdent(tmpName)}`;
  const indexes: { name: string; primary: boolean; constraint: string | null; def: string }[] = await q.query(
    `SELECT ic.relname AS name, x.indisprimary AS primary, con.conname AS constraint, pg_get_indexdef(x.indexrelid) AS def
     FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
     LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = x.indrelid AND con.contype IN ('p', 'u')
     WHERE x.indrelid = $1::regclass`,
    [parent],
  );
  const foreignKeys: { name: string; def: string }[] = await q.query(
    `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f'`,
    [parent],
  );
  const serials = await serialSequences(q, parent);
  await q.query(`CREATE TABLE ${tmp} (LIKE ${parent} INCLUDING ALL EXCLUDING INDEXES)`);
  await q.query(`INSERT INTO ${tmp} SELECT * FROM ${parent}`);
  for (const x of serials) await q.query(`ALTER SEQUENCE ${x.seq} OWNED BY ${tmp}.${quoteIdent(x.col)}`);
  const [{ parentRef }]: { parentRef: string }[] = await q.query(`SELECT format('%I.%I', $1::text, $2::text) AS "parentRef"`, [c.schema, c.table]);
  await q.query(`DROP TABLE ${parent}`);
  await q.query(`ALTER TABLE ${tmp} RENAME TO ${quoteIdent(c.table)}`);
  for (const i of indexes) {
    if (i.primary) await q.query(`ALTER TABLE ${parent} ADD CONSTRAINT ${quoteIdent(i.constraint ?? i.name)} PRIMARY KEY (${c.primaryKey.map(quoteIdent).join(', ')})`);
    else if (i.constraint) await q.query(`ALTER TABLE ${parent} ADD CONSTRAINT ${quoteIdent(i.constraint)} ${i.def.replace(/^.* USING btree /, 'UNIQUE ')}`);
    else await q.query(i.def.replace(` ON ONLY ${parentRef} USING `, ` ON ${parent} USING `).replace(` ON ${parentRef} USING `, ` ON ${parent} USING `));
  }
  for (const f of foreignKeys) await q.query(`ALTER TABLE ${parent} ADD CONSTRAINT ${quoteIdent(f.name)} ${f.def}`);
}

/** The sequences owned by the table's serial columns (they must follow the rows to the new table). */
function serialSequences(q: QueryRunner, table: string): Promise<{ col: string; seq: string }[]> {
  return q.query(
    `SELECT a.attname AS col, pg_get_serial_sequence($1::text, a.attname) AS seq FROM pg_attribute a
     WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped AND pg_get_serial_sequence($1::text, a.attname) IS NOT NULL`,
    [table],
  );
}

/**
 * Builds an index on a partitioned table without blocking its writers (a migration with `transaction = false`): the
 * parent's index `ON ONLY` (invalid until every partition has one), each partition's `CONCURRENTLY` as
 * `<partition>_<suffix>`, attached; partitions made later get it from the parent. Resumable: a partition whose index
 * is already attached is skipped, and an invalid leftover of a failed CONCURRENTLY build is dropped and built again.
 * Throws when the parent's index is not valid at the end (a partition appeared meanwhile without it: run again).
 */
export async function createPartitionedIndexConcurrently(
  q: QueryRunner,
  c: { schema: string; table: string; index: string; suffix: string; definition: string },
): Promise<void> {
  const s = quoteIdent(c.schema);
  const parent = `${s}.${quoteIdent(c.index)}`;
  await q.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(c.index)} ON ONLY ${s}.${quoteIdent(c.table)} ${c.definition}`);
  const parts: { name: string }[] = await q.query(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
    [`${s}.${quoteIdent(c.table)}`],
  );
  for (const { name } of parts) {
    const index = `${s}.${quoteIdent(`${name}_${c.suffix}`)}`;
    const [existing]: { valid: boolean; attached: boolean }[] = await q.query(
      `SELECT x.indisvalid AS valid, EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = x.indexrelid AND h.inhparent = $2::regclass) AS attached
       FROM pg_index x WHERE x.indexrelid = to_regclass($1)`,
      [index, parent],
    );
    if (existing?.attached) continue;
    if (existing && !existing.valid) await q.query(`DROP INDEX CONCURRENTLY ${index}`);
    if (!existing?.valid) await q.query(`CREATE INDEX CONCURRENTLY ${quoteIdent(`${name}_${c.suffix}`)} ON ${s}.${quoteIdent(name)} ${c.definition}`);
    await q.query(`ALTER INDEX ${parent} ATTACH PARTITION ${index}`);
  }
  const [{ valid }]: { valid: boolean }[] = await q.query(`SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = $1::regclass`, [parent]);
  if (!valid) throw new Error(`${c.schema}.${c.index} is not valid after attaching every partition's index (a partition was added meanwhile?); run the migration again`);
}
