import { GetPerformanceReportResponse } from '@trackly/contracts/reporting/v1/reporting_service';
import { addMoneyAmounts } from './money-json';

describe('addMoneyAmounts', () => {
  it('adds the exact decimal amount to a Money object', () => {
    expect(addMoneyAmounts({ currencyCode: 'USD', amountMicros: '24990000' })).toEqual({
      currencyCode: 'USD',
      amountMicros: '24990000',
      amount: '24.99',
    });
  });

  it('keeps micros beyond 2^53 exact and handles negative and sub-cent amounts', () => {
    expect(addMoneyAmounts({ currencyCode: 'USD', amountMicros: '9007199254740993000' })).toMatchObject({
      amount: '9007199254740.993',
    });
    expect(addMoneyAmounts({ currencyCode: 'EUR', amountMicros: '-5000000' })).toMatchObject({ amount: '-5.00' });
    expect(addMoneyAmounts({ currencyCode: 'EUR', amountMicros: '1' })).toMatchObject({ amount: '0.000001' });
  });

  it('restores the zero amount proto3 JSON omits', () => {
    expect(addMoneyAmounts({ currencyCode: 'USD' })).toEqual({ currencyCode: 'USD', amountMicros: '0', amount: '0.00' });
  });

  it('walks nested objects and arrays and leaves everything else as it is', () => {
    const json = {
      rows: [{ key: 'cr-1', sends: '10', revenue: [{ revenue: { currencyCode: 'USD', amountMicros: '1500000' }, epc: { currencyCode: 'USD' } }] }],
      timeZone: 'UTC',
      flag: true,
      nothing: null,
    };
    expect(addMoneyAmounts(json)).toEqual({
      rows: [
        {
          key: 'cr-1',
          sends: '10',
          revenue: [
            {
              revenue: { currencyCode: 'USD', amountMicros: '1500000', amount: '1.50' },
              epc: { currencyCode: 'USD', amountMicros: '0', amount: '0.00' },
            },
          ],
        },
      ],
      timeZone: 'UTC',
      flag: true,
      nothing: null,
    });
    // In place: the value handed in is the value returned (a fresh toJSON output, never copied).
    expect(addMoneyAmounts(json)).toBe(json);
  });

  it('does not take look-alikes for Money', () => {
    const lookalikes = [
      {},
      { amountMicros: '5' }, // no currency: not a valid Money
      { currencyCode: '', amountMicros: '5' },
      { currencyCode: 'USD', amountMicros: '1.5' },
      { currencyCode: 'USD', amountMicros: 5 },
      { currencyCode: 'USD', amountMicros: '5', name: 'x' },
    ];
    for (const o of lookalikes) expect(addMoneyAmounts(structuredClone(o))).toEqual(o);
  });

  it('decorates the generated toJSON of a real contract message', () => {
    const json = GetPerformanceReportResponse.toJSON(GetPerformanceReportResponse.fromPartial({
      rows: [],
      timeZone: 'Europe/Paris',
      total: {
        key: '', name: '', sends: '3', clicks: '2', uniqueClicks: '1', conversions: '1',
        revenue: [{ revenue: { currencyCode: 'EUR', amountMicros: '24990000' }, pendingRevenue: undefined, revenuePerSend: { currencyCode: 'EUR', amountMicros: '8330000' }, epc: undefined }],
      },
    }));
    expect(addMoneyAmounts(json)).toEqual({
      timeZone: 'Europe/Paris',
      total: {
        sends: '3', clicks: '2', uniqueClicks: '1', conversions: '1',
        revenue: [{
          revenue: { currencyCode: 'EUR', amountMicros: '24990000', amount: '24.99' },
          revenuePerSend: { currencyCode: 'EUR', amountMicros: '8330000', amount: '8.33' },
        }],
      },
    });
  });
});
