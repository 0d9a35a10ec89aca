import { DateBasis, ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';
import { addDays, canonicalTimeZone, DomainError, localDay, ManualClock } from '@trackly/kernel';
import {
  parseDay,
  parseFormat,
  parsePerformanceQuery,
  parseMaturityQuery,
  parsePerformanceFilters,
  parseReconciliationQuery,
  PerformanceQuery,
} from './performance-query';

// 2026-03-01 02:30 UTC: still 2026-02-28 in New York, already 2026-03-01 in UTC and Tokyo.
const clock = new ManualClock(new Date('2026-03-01T02:30:00Z'));

function fieldsOf(query: PerformanceQuery): Record<string, string> {
  try {
    parsePerformanceQuery(query, clock.now());
  } catch (e) {
    expect(e).toBeInstanceOf(DomainError);
    expect((e as DomainError).kind).toBe('INVALID_ARGUMENT');
    return (e as DomainError).fields;
  }
  throw new Error('expected INVALID_ARGUMENT');
}

describe('parsePerformanceQuery', () => {
  it.each([
    ['creative', ReportGrouping.REPORT_GROUPING_CREATIVE],
    ['offer', ReportGrouping.REPORT_GROUPING_OFFER],
    ['campaign', ReportGrouping.REPORT_GROUPING_CAMPAIGN],
    ['date', ReportGrouping.REPORT_GROUPING_DATE],
    ['Offer', ReportGrouping.REPORT_GROUPING_OFFER],
  ])('maps group_by=%p to the contract enum', (text, grouping) => {
    expect(parsePerformanceQuery({ group_by: text, from: '2026-01-01', to: '2026-01-31' }, clock.now())).toEqual({
      groupBy: grouping,
      fromDate: '2026-01-01',
      toDate: '2026-01-31',
      timeZone: 'UTC',
      thenBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED,
      dateBasis: DateBasis.DATE_BASIS_CONVERSION,
      includeTest: false, reportingCurrency: '',
    });
  });

  it('reads then_by (none means none) and date_basis', () => {
    expect(parsePerformanceQuery({ group_by: 'creative', then_by: 'Date', date_basis: 'SEND' }, clock.now())).toMatchObject({
      groupBy: ReportGrouping.REPORT_GROUPING_CREATIVE, thenBy: ReportGrouping.REPORT_GROUPING_DATE, dateBasis: DateBasis.DATE_BASIS_SEND,
    });
    expect(parsePerformanceQuery({ group_by: 'creative', then_by: 'none' }, clock.now()).thenBy).toBe(ReportGrouping.REPORT_GROUPING_UNSPECIFIED);
  });

  it('reads the reconciliation range and partner, with the same defaults', () => {
    expect(parseReconciliationQuery({ partner: ' tune-1 ', tz: 'America/New_York' }, clock.now())).toEqual({
      fromDate: '2026-01-30', toDate: '2026-02-28', timeZone: 'America/New_York', partnerId: 'tune-1', includeTest: false,
    });
    expect(() => parseReconciliationQuery({ from: '2026-02-30' }, clock.now())).toThrow(/from must be a date/);
  });

  it('reads include_test: false by default, true, nothing else, on every report', () => {
    expect(parsePerformanceQuery({ group_by: 'offer', include_test: 'true' }, clock.now()).includeTest).toBe(true);
    expect(parseReconciliationQuery({ include_test: 'true' }, clock.now()).includeTest).toBe(true);
    expect(parseMaturityQuery({ include_test: 'false' }, clock.now()).includeTest).toBe(false);
    expect(() => parseReconciliationQuery({ include_test: 'yes' }, clock.now())).toThrow(/include_test must be true or false/);
  });

  it('reads format: json by default, csv, nothing else', () => {
    expect(parseFormat({})).toBe('json');
    expect(parseFormat({ format: 'csv' })).toBe('csv');
    expect(() => parseFormat({ format: 'xlsx' })).toThrow(/format must be json or csv/);
    expect(() => parseFormat({ format: ['csv', 'csv'] })).toThrow(/format/);
  });

  it('defaults to the last 30 days ending today in UTC', () => {
    expect(parsePerformanceQuery({ group_by: 'date' }, clock.now())).toMatchObject({
      fromDate: '2026-01-31',
      toDate: '2026-03-01',
      timeZone: 'UTC',
    });
  });

  it('cuts "today" in the requested time zone', () => {
    expect(parsePerformanceQuery({ group_by: 'date', tz: 'America/New_York' }, clock.now())).toEqual({
      groupBy: ReportGrouping.REPORT_GROUPING_DATE,
      fromDate: '2026-01-30',
      toDate: '2026-02-28',
      timeZone: 'America/New_York',
      thenBy: ReportGrouping.REPORT_GROUPING_UNSPECIFIED,
      dateBasis: DateBasis.DATE_BASIS_CONVERSION,
      includeTest: false, reportingCurrency: '',
    });
    clock.advance(3 * 3_600_000); // 05:30 UTC = 00:30 in New York: the local day has turned
    expect(parsePerformanceQuery({ group_by: 'date', tz: 'America/New_York' }, clock.now()).toDate).toBe('2026-03-01');
    clock.set('2026-03-01T02:30:00Z');
  });

  it('fills a missing end with today and a missing start with 30 days before the end', () => {
    expect(parsePerformanceQuery({ group_by: 'offer', from: '2026-02-15' }, clock.now())).toMatchObject({
      fromDate: '2026-02-15',
      toDate: '2026-03-01',
    });
    expect(parsePerformanceQuery({ group_by: 'offer', to: '2025-12-31' }, clock.now())).toMatchObject({
      fromDate: '2025-12-02',
      toDate: '2025-12-31',
    });
  });

  it('groups by partner and filters by partner ids (trimmed, de-duplicated, checked like the other ids)', () => {
    expect(parsePerformanceQuery({ group_by: 'partner', then_by: 'creative' }, clock.now())).toMatchObject({
      groupBy: ReportGrouping.REPORT_GROUPING_PARTNER,
      thenBy: ReportGrouping.REPORT_GROUPING_CREATIVE,
    });
    expect(parsePerformanceFilters({ partner: ' tune-1,everflow-2,tune-1 ' }).partnerIds).toEqual(['tune-1', 'everflow-2']);
    expect(() => parsePerformanceFilters({ partner: 'bad id!' })).toThrow(DomainError);
  });

  it('accepts a one-day range and canonicalises the zone name', () => {
    expect(parsePerformanceQuery({ group_by: 'offer', from: '2026-02-01', to: '2026-02-01', tz: 'utc' }, clock.now())).toMatchObject({
      fromDate: '2026-02-01',
      toDate: '2026-02-01',
      timeZone: 'UTC',
    });
  });

  it('requires group_by', () => {
    expect(fieldsOf({})).toEqual({ group_by: 'is required: one of creative, offer, campaign, date, partner' });
    expect(fieldsOf({ group_by: '' })).toHaveProperty('group_by');
  });

  it('reports every bad field at once', () => {
    expect(fieldsOf({ group_by: 'contact', from: '2026-02-30', to: '01/03/2026', tz: 'Mars/Olympus' })).toEqual({
      group_by: 'must be one of creative, offer, campaign, date, partner',
      from: 'must be a date YYYY-MM-DD',
      to: 'must be a date YYYY-MM-DD',
      tz: 'must be an IANA time zone such as UTC or America/New_York',
    });
  });

  it('rejects repeated parameters', () => {
    expect(fieldsOf({ group_by: ['offer', 'date'] })).toEqual({ group_by: 'must be given once' });
    expect(fieldsOf({ group_by: 'offer', from: ['2026-01-01', '2026-01-02'] })).toEqual({ from: 'must be given once' });
  });

  it('rejects a start after the end, including a defaulted end', () => {
    expect(fieldsOf({ group_by: 'offer', from: '2026-02-02', to: '2026-02-01' })).toEqual({ from: 'must not be after to (2026-02-01)' });
    expect(fieldsOf({ group_by: 'offer', from: '2026-03-02' })).toEqual({ from: 'must not be after to (2026-03-01)' });
  });
});

describe('time zone and day helpers (the kernel calendar, as the gateway reads tz/from/to)', () => {
  it.each(['UTC', 'Europe/Paris', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'])('accepts %p', (tz) => {
    expect(canonicalTimeZone(tz)).toBeDefined();
  });

  it.each(['', '+05:00', 'EST5EDT,M3.2.0,M11.1.0', 'Europe/Nowhere', '../etc/passwd', 'Europe/Paris '])('rejects %p', (tz) => {
    expect(canonicalTimeZone(tz)).toBeUndefined();
  });

  it('parses only real calendar days', () => {
    expect(parseDay('2024-02-29')).toBe('2024-02-29');
    for (const bad of ['2025-02-29', '2026-13-01', '2026-00-10', '2026-1-1', '20260101', '2026-01-01T00:00:00Z', '0050-01-01']) {
      expect(parseDay(bad)).toBeUndefined();
    }
  });

  it('finds the local day and moves across month and year ends', () => {
    expect(localDay(new Date('2026-01-01T03:00:00Z'), 'America/Los_Angeles')).toBe('2025-12-31');
    expect(localDay(new Date('2025-12-31T20:00:00Z'), 'Asia/Tokyo')).toBe('2026-01-01');
    expect(addDays('2026-03-01', -1)).toBe('2026-02-28');
    expect(addDays('2025-12-31', 1)).toBe('2026-01-01');
  });
});
