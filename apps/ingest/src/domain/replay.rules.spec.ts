import { validateReplay } from './replay.rules';

const from = new Date('2026-11-01T00:00:00Z');
const to = new Date('2026-11-02T00:00:00Z');

describe('validateReplay', () => {
  it('defaults to the refused and failed requests, 1000 at a time', () => {
    expect(validateReplay({ partnerId: 'acme', receivedFrom: from, receivedTo: to, dryRun: true, outcomes: [], limit: 0 })).toEqual({
      ok: true,
      value: { partnerId: 'acme', from, to, dryRun: true, outcomes: ['invalid', 'unauthorized', 'forbidden', 'not_found', 'error'], limit: 1000 },
    });
    expect(validateReplay({ partnerId: 'acme', receivedFrom: from, receivedTo: to, dryRun: false, outcomes: ['stored', 'stored'], limit: 5 })).toMatchObject({
      ok: true,
      value: { outcomes: ['stored'], limit: 5, dryRun: false },
    });
  });

  it('requires a partner and a time range in order, known outcomes and a sane limit', () => {
    expect(validateReplay({ partnerId: '', receivedFrom: undefined, receivedTo: undefined, dryRun: true, outcomes: [], limit: 0 })).toEqual({
      ok: false,
      fields: { partner_id: 'is required', received_from: 'is required', received_to: 'is required' },
    });
    expect(validateReplay({ partnerId: 'a', receivedFrom: to, receivedTo: from, dryRun: true, outcomes: ['lost'], limit: 10_001 })).toEqual({
      ok: false,
      fields: { received_to: 'must be after received_from', outcomes: expect.stringContaining('got "lost"'), limit: 'must be at most 10000' },
    });
  });
});
