import { buildReconciliationReport } from './reconciliation';

const a = (partnerId: string, day: string, currency: string, count: number, micros: number) => ({
  partnerId, day, currency, count: BigInt(count), micros: BigInt(micros),
});
const n = (count: number, micros: number, currencyCode = 'USD') => ({ count: String(count), amount: { currencyCode, amountMicros: String(micros) } });

describe('buildReconciliationReport', () => {
  it('puts each category of a partner, day and currency on one row, currencies apart, reasons sorted', () => {
    const r = buildReconciliationReport(
      {
        received: [a('tune', '2026-05-05', 'USD', 5, 50_000_000), a('tune', '2026-05-05', 'EUR', 1, 9_000_000)],
        receivedPendingStatus: [a('tune', '2026-05-05', 'USD', 1, 10_000_000)],
        credited: [a('tune', '2026-05-05', 'USD', 2, 20_000_000)],
        reversed: [],
        unattributed: [
          { ...a('tune', '2026-05-05', 'USD', 1, 5_000_000), reason: 'UNKNOWN_CLICK_ID' },
          { ...a('tune', '2026-05-05', 'USD', 1, 15_000_000), reason: 'OUTSIDE_WINDOW' },
        ],
        pending: [a('tune', '2026-05-05', 'USD', 1, 10_000_000), a('everflow', '2026-05-04', 'USD', 1, 1)],
      },
      'UTC',
    );
    expect(r.rows.map((x) => [x.partnerId, x.date, x.currencyCode])).toEqual([
      ['everflow', '2026-05-04', 'USD'], ['tune', '2026-05-05', 'EUR'], ['tune', '2026-05-05', 'USD'],
    ]);
    expect(r.rows[1]).toEqual({
      partnerId: 'tune', date: '2026-05-05', currencyCode: 'EUR', received: n(1, 9_000_000, 'EUR'), receivedPendingStatus: n(0, 0, 'EUR'),
      credited: n(0, 0, 'EUR'), reversed: n(0, 0, 'EUR'), pending: n(0, 0, 'EUR'), unattributed: [],
      receivedDirect: n(0, 0, 'EUR'), creditedOverCap: n(0, 0, 'EUR'), held: n(0, 0, 'EUR'), test: n(0, 0, 'EUR'),
    });
    expect(r.rows[2]).toMatchObject({
      received: n(5, 50_000_000), credited: n(2, 20_000_000), pending: n(1, 10_000_000),
      unattributed: [{ reason: 'OUTSIDE_WINDOW', total: n(1, 15_000_000) }, { reason: 'UNKNOWN_CLICK_ID', total: n(1, 5_000_000) }],
    });
    expect(r.timeZone).toBe('UTC');
  });
});
