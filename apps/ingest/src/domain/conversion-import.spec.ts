import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { readHeader, readImportRow, ImportHeader } from './conversion-import';

const ctx = { receivedAt: new Date('2026-11-02T10:00:00Z'), defaultCurrency: 'EUR' };
const header = readHeader({ line: 1, fields: ['\uFEFFConversion_ID', 'note', 'payout', 'click_id', 'status', 'occurred_at', 'currency'] }) as ImportHeader;

describe('import header', () => {
  it('finds the known columns in any order, ignoring others and a BOM', () => {
    expect([...header.columns]).toEqual([['conversion_id', 0], ['payout', 2], ['click_id', 3], ['status', 4], ['occurred_at', 5], ['currency', 6]]);
    expect(header.width).toBe(7);
  });

  it('refuses a header without conversion_id or payout, or with a column twice', () => {
    expect(readHeader({ line: 1, fields: ['click_id', 'amount'] })).toEqual(expect.stringContaining('conversion_id and payout'));
    expect(readHeader({ line: 1, fields: ['conversion_id', 'payout', 'PAYOUT'] })).toBe('column "payout" appears twice in the header');
  });
});

describe('import rows', () => {
  it('reads a row with the postback rules', () => {
    const r = readImportRow(header, { line: 2, fields: ['c-1', 'x', '24,99', 'clk', 'pending', '2026-11-01T08:00:00Z', ''] }, ctx);
    expect(r).toMatchObject({
      ok: true,
      value: { conversionId: 'c-1', clickId: 'clk', payout: { currency: 'EUR', micros: 24_990_000n }, status: ConversionStatus.CONVERSION_STATUS_PENDING, occurredAt: new Date('2026-11-01T08:00:00Z') },
    });
  });

  it('refuses a row with the wrong width or bad fields, naming each problem', () => {
    expect(readImportRow(header, { line: 3, fields: ['c-1', '24.99'] }, ctx)).toEqual({ ok: false, message: 'has 2 fields, the header has 7' });
    const bad = readImportRow(header, { line: 4, fields: ['', '', 'NaN', '', 'maybe', 'yesterday', 'dollars'] }, ctx);
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/conversion_id is required/);
    expect(!bad.ok && bad.message).toMatch(/payout must be a decimal/);
    expect(!bad.ok && bad.message).toMatch(/status must be approved/);
    expect(!bad.ok && bad.message).toMatch(/occurred_at must be ISO 8601/);
    expect(!bad.ok && bad.message).toMatch(/currency must be a 3-letter/);
  });
});
