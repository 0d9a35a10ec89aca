import { Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { ConversionSource } from '@trackly/contracts/attribution/v1/attribution';
import { validateConversionInput } from '../domain/conversion-input.rules';
import { conversionFromIngest, moneyFromWire, moneyToWire, sourceToEnum } from './wire';

describe('wire mapping', () => {
  const now = new Date('2026-06-01T00:00:00Z');

  it("maps ingest's conversion with its message id (view-through), test flag and missing payout; source INGEST", () => {
    const c = Conversion.fromPartial({
      id: 'ref', partnerId: 'tune', conversionId: 'c1', clickId: '', messageId: 'msg-1', payout: { currencyCode: 'USD', amountMicros: '0' },
      status: ConversionStatus.CONVERSION_STATUS_PENDING, payoutAbsent: true, test: true,
    });
    expect(conversionFromIngest(c, now)).toEqual({
      partnerId: 'tune', conversionId: 'c1', conversionRef: 'ref', clickId: '', messageId: 'msg-1', payout: { currency: 'USD', micros: 0n },
      status: 'PENDING', occurredAt: now, test: true, source: 'INGEST', payoutAbsent: true,
    });
  });

  it('takes the time from the conversion, else its receipt, else the injected now', () => {
    const at = new Date('2026-05-01T00:00:00Z');
    expect(conversionFromIngest(Conversion.fromPartial({ occurredAt: at }), now).occurredAt).toEqual(at);
    expect(conversionFromIngest(Conversion.fromPartial({ receivedAt: at }), now).occurredAt).toEqual(at);
    expect(conversionFromIngest(Conversion.fromPartial({}), now).occurredAt).toEqual(now);
  });

  it('gives the direct RPC source DIRECT, and money survives the round trip to the micro', () => {
    expect(validateConversionInput({ partnerId: 'p', conversionId: 'c', clickId: '', payout: { currencyCode: 'usd', amountMicros: '1' }, status: 'APPROVED' }, now)).toMatchObject({
      source: 'DIRECT', test: false, payoutAbsent: false,
    });
    const m = { currency: 'EUR', micros: 9_007_199_254_740_993n };
    expect(moneyFromWire(moneyToWire(m))).toEqual(m);
    expect(sourceToEnum('DIRECT')).toBe(ConversionSource.CONVERSION_SOURCE_DIRECT);
    expect(sourceToEnum(null)).toBe(ConversionSource.CONVERSION_SOURCE_UNSPECIFIED);
  });
});
