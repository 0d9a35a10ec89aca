/** CSV rows of an import read as conversions, with the same rules (and dedupe keys) as the generic postback. */
import type { CsvRecord } from './csv-reader';
import type { RawParams } from './conversion.rules';
import { parsePostback, ParsedPostback } from './postback.parser';

export const IMPORT_COLUMNS = ['click_id', 'conversion_id', 'payout', 'currency', 'status', 'occurred_at'] as const;
const REQUIRED_COLUMNS = ['conversion_id', 'payout'];

export interface ImportHeader {
  /** Column index per known column name. */
  columns: Map<string, number>;
  width: number;
}

/** The header row: column names (trimmed, lower case, a UTF-8 BOM dropped); the known ones are used, others ignored. */
export function readHeader(record: CsvRecord): ImportHeader | string {
  const names = record.fields.map((f, i) => (i === 0 ? f.replace(/^\uFEFF/, '') : f).trim().toLowerCase());
  const columns = new Map<string, number>();
  for (const [i, name] of names.entries()) {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) continue;
    if (columns.has(name)) return `column "${name}" appears twice in the header`;
    columns.set(name, i);
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length) return `the header must name the columns ${missing.join(' and ')} (known columns: ${IMPORT_COLUMNS.join(', ')})`;
  return { columns, width: names.length };
}

/** One data row as a conversion, or the problem with it. */
export function readImportRow(
  header: ImportHeader,
  record: CsvRecord,
  ctx: { receivedAt: Date; defaultCurrency: string },
): { ok: true; value: ParsedPostback } | { ok: false; message: string } {
  if (record.fields.length !== header.width) {
    return { ok: false, message: `has ${record.fields.length} fields, the header has ${header.width}` };
  }
  const params: RawParams = {};
  for (const [name, i] of header.columns) params[name] = record.fields[i];
  const parsed = parsePostback(params, { ...ctx, kind: 'GENERIC', clickIdParam: null });
  if (!parsed.ok) return { ok: false, message: Object.entries(parsed.fields).map(([f, p]) => `${f} ${p}`).join('; ') };
  return parsed;
}
