import { Events } from '@trackly/messaging';
import { AttributionState, Conversion } from '@trackly/contracts/ingest/v1/ingest';
import { ConversionStatus } from '@trackly/contracts/common/v1/conversion_status';
import { conversionEventColumns } from './conversion-events';

function conversion(i: number): Conversion {
  return {
    id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    partnerId: 'impact',
    conversionId: `conv-${'x'.repeat(i * 40)}-${i}`,
    clickId: i % 2 ? `clk${i}` : '',
    payout: { currencyCode: 'EUR', amountMicros: String(1_990_000 * i) },
    status: ConversionStatus.CONVERSION_STATUS_APPROVED,
    occurredAt: new Date(1_765_000_000_123 + i),
    receivedAt: new Date(1_765_000_001_456 + i),
    attributionState: AttributionState.ATTRIBUTION_STATE_PENDING,
    attributionReason: '',
    creditedMessageId: '',
    messageId: i % 3 ? '' : `msg-é-${i}`,
    payoutAbsent: i % 2 === 0,
    test: i === 2,
  };
}

describe('conversionEventColumns (one shared writer)', () => {
  it('encodes each ConversionReceived exactly as the event codec does, and later events leave earlier payloads alone', () => {
    const made = [0, 1, 2, 3, 7, 1].map((i) => ({ i, columns: conversionEventColumns(conversion(i), { 'Trackly-Request-Id': `r${i}` }) }));
    for (const { i, columns } of made) {
      const expected = Buffer.from(Events.ConversionReceived.codec.encode({ conversion: conversion(i) }).finish());
      expect(columns.payload.equals(expected)).toBe(true);
      expect(Events.ConversionReceived.codec.decode(columns.payload).conversion).toEqual(conversion(i));
      expect(JSON.parse(columns.headers)).toEqual({ 'Trackly-Request-Id': `r${i}` });
    }
  });
});
