import { consecutiveFailuresAfter, EndpointInput, shouldDisable, validateEndpoint, wants } from './endpoint.rules';

const input = (over: Partial<EndpointInput> = {}): EndpointInput => ({
  endpointId: 'ep-1', name: '', kind: 'WEBHOOK', url: 'https://hooks.example/in', eventTypes: ['conversion.attributed'],
  filters: { campaignIds: [], offerIds: [], partnerIds: [] }, active: true, rateLimitPerSecond: 0, timeoutMs: 0, ...over,
});

describe('endpoint rules', () => {
  it('fills defaults', () => {
    expect(validateEndpoint(input())).toMatchObject({ name: 'ep-1', rateLimitPerSecond: 50, timeoutMs: 10_000 });
  });

  it('reports every bad field at once', () => {
    expect(() => validateEndpoint(input({ endpointId: 'a b', kind: undefined, eventTypes: [], timeoutMs: 50 }))).toThrow(
      expect.objectContaining({ fields: expect.objectContaining({ endpoint_id: expect.any(String), kind: expect.any(String), event_types: expect.any(String), timeout_ms: expect.any(String) }) }),
    );
    expect(() => validateEndpoint(input({ url: 'https://u:p@hooks.example/' }))).toThrow(/credentials/);
    expect(() => validateEndpoint(input({ kind: 'POSTBACK_TEMPLATE', url: 'https://ts.example/?c={clk}' }))).toThrow(/unknown macros/);
    expect(() => validateEndpoint(input({ eventTypes: ['conversion.attributed', undefined] }))).toThrow(/event_types/);
  });

  it('matches type and every non-empty filter; a missing dimension does not pass a filter', () => {
    const ep = validateEndpoint(input({ eventTypes: ['conversion.attributed', 'click.recorded'], filters: { campaignIds: ['c1'], offerIds: [], partnerIds: [] } }));
    expect(wants(ep, { type: 'conversion.attributed', campaignId: 'c1' })).toBe(true);
    expect(wants(ep, { type: 'conversion.attributed', campaignId: 'c2' })).toBe(false);
    expect(wants(ep, { type: 'conversion.attributed' })).toBe(false);
    expect(wants(ep, { type: 'conversion.reversed', campaignId: 'c1' })).toBe(false);
    expect(wants({ ...ep, active: false }, { type: 'conversion.attributed', campaignId: 'c1' })).toBe(false);
    const partners = validateEndpoint(input({ eventTypes: ['click.recorded'], filters: { campaignIds: [], offerIds: [], partnerIds: ['p'] } }));
    expect(wants(partners, { type: 'click.recorded', campaignId: 'c1' })).toBe(false);
  });

  it('counts failures in a row and disables at the threshold', () => {
    expect(consecutiveFailuresAfter(3, [false, false])).toBe(5);
    expect(consecutiveFailuresAfter(3, [false, true, false])).toBe(1);
    expect(consecutiveFailuresAfter(3, [true])).toBe(0);
    expect(shouldDisable(9, 10)).toBe(false);
    expect(shouldDisable(10, 10)).toBe(true);
    expect(shouldDisable(1000, 0)).toBe(false);
  });
});
