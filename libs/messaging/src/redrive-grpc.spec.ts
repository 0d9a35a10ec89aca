import { InvalidArgumentError } from '@trackly/kernel';
import { dailyRange, redriveRange } from './redrive-grpc';

const known = ['trackly.ingest.v1.ConversionReceived', 'trackly.ingest.v1.ConversionAdjusted'];
const req = (over: Partial<Parameters<typeof redriveRange>[0]> = {}) => ({
  fromTime: new Date('2026-12-01T00:00:00Z'),
  toTime: new Date('2026-12-02T00:00:00Z'),
  eventTypes: [],
  dryRun: false,
  ...over,
});

describe('re-drive request rules', () => {
  it('takes a range with the event types this service publishes (none = all)', () => {
    expect(redriveRange(req(), known)).toEqual({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2026-12-02T00:00:00Z'), subjects: [] });
    expect(redriveRange(req({ eventTypes: [known[0]] }), known).subjects).toEqual([known[0]]);
  });

  it('refuses a missing or empty range and event types of another service, naming the field', () => {
    expect(() => redriveRange(req({ fromTime: undefined }), known)).toThrow(new InvalidArgumentError('from_time', 'is required'));
    expect(() => redriveRange(req({ toTime: new Date('2026-12-01T00:00:00Z') }), known)).toThrow(/to_time must be after from_time/);
    expect(() => redriveRange(req({ eventTypes: ['trackly.tracking.v1.ClickRecorded'] }), known)).toThrow(/event_types trackly.tracking.v1.ClickRecorded not published by this service/);
  });

  it('turns inclusive UTC days into a half-open range and refuses non-dates', () => {
    expect(dailyRange({ fromDate: '2026-12-01', toDate: '2026-12-03' })).toEqual({ from: new Date('2026-12-01T00:00:00Z'), to: new Date('2026-12-04T00:00:00Z') });
    expect(() => dailyRange({ fromDate: '2026-02-30', toDate: '2026-03-01' })).toThrow(/from_date is not a calendar date/);
    expect(() => dailyRange({ fromDate: '2026-12-02', toDate: '2026-12-01' })).toThrow(/to_date must not be before from_date/);
    expect(() => dailyRange({ fromDate: '12/01/2026', toDate: '2026-12-01' })).toThrow(/from_date must be a date YYYY-MM-DD/);
  });
});
