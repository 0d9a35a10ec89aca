import { partnerCounters } from './partner-counters';

describe('partnerCounters', () => {
  it('sums each partner by outcome, refusals by reason, in-flight requests as received only', () => {
    expect(
      partnerCounters([
        { partnerId: 'b', outcome: 'stored', reasonCode: null, count: 2n },
        { partnerId: 'a', outcome: 'stored', reasonCode: null, count: 5n },
        { partnerId: 'a', outcome: 'duplicate', reasonCode: 'SAME_CONTENT', count: 3n },
        { partnerId: 'a', outcome: 'adjusted', reasonCode: 'STATUS_OR_PAYOUT_CHANGED', count: 1n },
        { partnerId: 'a', outcome: 'reversed', reasonCode: null, count: 1n },
        { partnerId: 'a', outcome: 'unauthorized', reasonCode: 'BAD_TOKEN', count: 4n },
        { partnerId: 'a', outcome: 'invalid', reasonCode: 'INVALID_FIELDS', count: 2n },
        { partnerId: 'a', outcome: 'invalid', reasonCode: null, count: 1n },
        { partnerId: 'a', outcome: 'error', reasonCode: 'STORE_FAILED', count: 1n },
        { partnerId: 'a', outcome: null, reasonCode: null, count: 9_007_199_254_740_993n },
      ]),
    ).toEqual([
      {
        partnerId: 'a',
        received: '9007199254741011',
        stored: '5',
        duplicates: '3',
        adjusted: '1',
        reversed: '1',
        errors: '1',
        rejectedByReason: { BAD_TOKEN: '4', INVALID_FIELDS: '2', INVALID: '1' },
      },
      { partnerId: 'b', received: '2', stored: '2', duplicates: '0', adjusted: '0', reversed: '0', errors: '0', rejectedByReason: {} },
    ]);
  });

  it('is empty for no requests', () => {
    expect(partnerCounters([])).toEqual([]);
  });
});
