import { DomainError } from '@trackly/kernel';
import { DateBasis, ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';
import { activityNotApplicable, parseLocalDate, resolveTimeZone, validatePerformanceQuery } from './report-query';

const base = { groupBy: ReportGrouping.REPORT_GROUPING_CREATIVE, fromDate: '2026-03-01', toDate: '2026-03-31', timeZone: '' };

function problems(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
    return (e as DomainError).fields;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('validatePerformanceQuery', () => {
  it.each([
    [ReportGrouping.REPORT_GROUPING_CREATIVE, 'creative'],
    [ReportGrouping.REPORT_GROUPING_OFFER, 'offer'],
    [ReportGrouping.REPORT_GROUPING_CAMPAIGN, 'campaign'],
    [ReportGrouping.REPORT_GROUPING_DATE, 'date'],
    [ReportGrouping.REPORT_GROUPING_PARTNER, 'partner'],
  ])('maps grouping %p to %p; an empty zone means UTC', (groupBy, dimension) => {
    const q = validatePerformanceQuery({ ...base, groupBy });
    expect(q).toMatchObject({ dimension, dimension2: undefined, basis: 'conversion', fromDate: '2026-03-01', toDate: '2026-03-31', timeZone: 'UTC' });
    expect(q.days).toHaveLength(31);
    expect([q.days[0], q.days[30]]).toEqual(['2026-03-01', '2026-03-31']);
  });

  it('takes a partner filter and says when send- and tap-based figures do not apply (partner grouped or filtered)', () => {
    const q = validatePerformanceQuery({ ...base, filter: { campaignIds: [], offerIds: [], partnerIds: ['tune', 'tune', 'everflow'] } });
    expect(q.partnerIds).toEqual(['tune', 'everflow']);
    expect(activityNotApplicable(q)).toBe(true);
    expect(activityNotApplicable(validatePerformanceQuery({ ...base, thenBy: ReportGrouping.REPORT_GROUPING_PARTNER }))).toBe(true);
    expect(activityNotApplicable(validatePerformanceQuery(base))).toBe(false);
    expect(problems(() => validatePerformanceQuery({ ...base, filter: { campaignIds: [], offerIds: [], partnerIds: ['a b'] } }))).toHaveProperty(['filter.partner_ids']);
  });

  it('takes a second, different dimension and the send-date basis', () => {
    expect(validatePerformanceQuery({ ...base, thenBy: ReportGrouping.REPORT_GROUPING_DATE, dateBasis: DateBasis.DATE_BASIS_SEND })).toMatchObject({
      dimension: 'creative', dimension2: 'date', basis: 'send',
    });
    expect(problems(() => validatePerformanceQuery({ ...base, thenBy: ReportGrouping.REPORT_GROUPING_CREATIVE }))).toEqual({ then_by: 'must differ from group_by' });
    expect(Object.keys(problems(() => validatePerformanceQuery({ ...base, thenBy: 9 as ReportGrouping, dateBasis: 9 as DateBasis })))).toEqual(['then_by', 'date_basis']);
  });

  it('takes campaign and offer filters (deduplicated; none = all) and refuses malformed or too many ids', () => {
    expect(validatePerformanceQuery(base)).toMatchObject({ campaignIds: [], offerIds: [] });
    expect(validatePerformanceQuery({ ...base, filter: { campaignIds: [], offerIds: [] } })).toMatchObject({ campaignIds: [], offerIds: [] });
    expect(validatePerformanceQuery({ ...base, filter: { campaignIds: ['c1', 'c1', 'c2'], offerIds: ['o:1'] } })).toMatchObject({
      campaignIds: ['c1', 'c2'], offerIds: ['o:1'],
    });
    expect(Object.keys(problems(() => validatePerformanceQuery({ ...base, filter: { campaignIds: ["c1' OR 1=1"], offerIds: [''] } })))).toEqual([
      'filter.campaign_ids', 'filter.offer_ids',
    ]);
    const many = { campaignIds: Array.from({ length: 1001 }, (_, i) => `c${i}`), offerIds: [] };
    expect(problems(() => validatePerformanceQuery({ ...base, filter: many }))['filter.campaign_ids']).toMatch(
      /at most 1000/,
    );
  });

  it('lists the days of a range across a month end and a leap day', () => {
    expect(validatePerformanceQuery({ ...base, fromDate: '2028-02-28', toDate: '2028-03-01' }).days).toEqual(['2028-02-28', '2028-02-29', '2028-03-01']);
  });

  it.each([ReportGrouping.REPORT_GROUPING_UNSPECIFIED, ReportGrouping.UNRECOGNIZED, 9])('rejects grouping %p', (groupBy) => {
    expect(Object.keys(problems(() => validatePerformanceQuery({ ...base, groupBy })))).toEqual(['group_by']);
  });

  it('accepts a single day and a whole leap year, refuses 367 days', () => {
    expect(validatePerformanceQuery({ ...base, toDate: '2026-03-01' }).toDate).toBe('2026-03-01');
    expect(validatePerformanceQuery({ ...base, fromDate: '2024-01-01', toDate: '2024-12-31' }).fromDate).toBe('2024-01-01');
    expect(problems(() => validatePerformanceQuery({ ...base, fromDate: '2024-01-01', toDate: '2025-01-01' })).to_date).toMatch(/366 days/);
  });

  it('refuses a range that ends before it starts', () => {
    expect(problems(() => validatePerformanceQuery({ ...base, fromDate: '2026-03-02', toDate: '2026-03-01' })).to_date).toMatch(/not be before/);
  });

  it('reports every bad field at once', () => {
    const fields = problems(() =>
      validatePerformanceQuery({ groupBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED, fromDate: '', toDate: '2026-02-30', timeZone: 'Mars/Olympus' }),
    );
    expect(Object.keys(fields).sort()).toEqual(['from_date', 'group_by', 'time_zone', 'to_date']);
    expect(fields.from_date).toMatch(/required/);
    expect(fields.to_date).toMatch(/calendar date/);
  });
});

describe('parseLocalDate', () => {
  it('counts days since the epoch', () => {
    expect(parseLocalDate('1970-01-01', 'd')).toBe(0);
    expect(parseLocalDate('2024-03-01', 'd') - parseLocalDate('2024-02-28', 'd')).toBe(2);
    expect(parseLocalDate('2025-03-01', 'd') - parseLocalDate('2025-02-28', 'd')).toBe(1);
  });

  it.each(['2026-3-01', '2026/03/01', '20260301', '2026-03-01T00:00', ' 2026-03-01', '2026-13-01', '2026-02-29', '2026-04-31', '0000-01-01', '0099-01-01'])(
    'rejects %p',
    (text) => {
      expect(() => parseLocalDate(text, 'from_date')).toThrow(/from_date/);
    },
  );
});

describe('resolveTimeZone', () => {
  it.each(['America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Eucla', 'UTC', 'Etc/GMT+5'])('keeps %p as given', (zone) => {
    expect(resolveTimeZone(zone)).toBe(zone);
  });

  it('treats empty or blank as UTC and trims', () => {
    expect(resolveTimeZone('')).toBe('UTC');
    expect(resolveTimeZone('   ')).toBe('UTC');
    expect(resolveTimeZone(' Europe/Paris ')).toBe('Europe/Paris');
  });

  it.each(['Mars/Olympus', 'America/Nowhere', '+05:30', '-03:00', 'UTC; DROP TABLE x', 'Europe/ Paris'])('rejects %p', (zone) => {
    expect(problems(() => resolveTimeZone(zone)).time_zone).toBeDefined();
  });
});
