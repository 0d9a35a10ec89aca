/** Validation of report requests: the grouping, the local-day range and the time zone it is cut in. */
import { assertId, canonicalTimeZone, epochDay, InvalidArgumentError, MS_PER_DAY } from '@trackly/kernel';
import { DateBasis, ReportGrouping } from '@trackly/contracts/reporting/v1/reporting_service';

/** A leap year is the longest range a dashboard asks for; longer scans are refused rather than served slowly. */
export const MAX_RANGE_DAYS = 366;

export type Dimension = 'creative' | 'offer' | 'campaign' | 'date' | 'partner';

export interface PerformanceQueryInput {
  groupBy: ReportGrouping;
  fromDate: string;
  toDate: string;
  timeZone: string;
  thenBy?: ReportGrouping;
  dateBasis?: DateBasis;
  /** Only these campaigns / offers / creatives / partners; unset or empty lists = all. */
  filter?: { campaignIds: string[]; offerIds: string[]; creativeIds?: string[]; partnerIds?: string[] };
  /** Count test conversions too (left out otherwise). */
  includeTest?: boolean;
  /** ISO code to also convert revenue into (empty = none). */
  reportingCurrency?: string;
}

/** More ids than any grant lists is a malformed request, not a filter. */
export const MAX_FILTER_IDS = 1000;

/** Which instant puts clicks and conversions on a day: their own, or their message's send time (cohort). */
export type Basis = 'conversion' | 'send';

/**
 * Sends and taps have no partner: a report grouped or filtered by partner has no send- or tap-based figure (sends,
 * engagements, taps, CTR, CVR, revenue per send, EPC), only conversion figures, read from the credited facts.
 */
export function activityNotApplicable(q: Pick<PerformanceQuery, 'dimension' | 'dimension2' | 'partnerIds'>): boolean {
  return q.dimension === 'partner' || q.dimension2 === 'partner' || q.partnerIds.length > 0;
}

/** Local days [fromDate 00:00, toDate + 1 00:00) in timeZone, grouped by dimension (and then by dimension2). */
export interface PerformanceQuery {
  dimension: Dimension;
  dimension2: Dimension | undefined;
  basis: Basis;
  fromDate: string;
  toDate: string;
  /** Local days in range, in order. */
  days: string[];
  timeZone: string;
  /** Rows of these campaigns / offers only; empty = no restriction. */
  campaignIds: string[];
  offerIds: string[];
  creativeIds: string[];
  /** Conversions of these partners only; empty = no restriction. */
  partnerIds: string[];
  /** Convert revenue into this currency too ('' = no conversion). */
  reportingCurrency: string;
}

export interface DayRangeQuery {
  fromDate: string;
  toDate: string;
  days: string[];
  timeZone: string;
}

const DIMENSIONS: Partial<Record<ReportGrouping, Dimension>> = {
  [ReportGrouping.REPORT_GROUPING_CREATIVE]: 'creative',
  [ReportGrouping.REPORT_GROUPING_OFFER]: 'offer',
  [ReportGrouping.REPORT_GROUPING_CAMPAIGN]: 'campaign',
  [ReportGrouping.REPORT_GROUPING_DATE]: 'date',
  [ReportGrouping.REPORT_GROUPING_PARTNER]: 'partner',
};

/** The shape of a day, to tell "not a date" from "not a calendar date" in the error (the kernel decides which days are real). */
const DAY_SHAPE = /^\d{4}-\d{2}-\d{2}$/;

/** Checks the whole request and reports every bad field at once. */
export function validatePerformanceQuery(input: PerformanceQueryInput): PerformanceQuery {
  const problems: Record<string, string> = {};
  const dimension = DIMENSIONS[input.groupBy];
  if (!dimension) problems.group_by = 'must be CREATIVE, OFFER, CAMPAIGN, DATE or PARTNER';
  const thenBy = input.thenBy ?? ReportGrouping.REPORT_GROUPING_UNSPECIFIED;
  const dimension2 = thenBy === ReportGrouping.REPORT_GROUPING_UNSPECIFIED ? undefined : DIMENSIONS[thenBy];
  if (thenBy !== ReportGrouping.REPORT_GROUPING_UNSPECIFIED && !dimension2) problems.then_by = 'must be CREATIVE, OFFER, CAMPAIGN, DATE or PARTNER';
  else if (dimension2 && dimension2 === dimension) problems.then_by = 'must differ from group_by';
  const basis = BASES[input.dateBasis ?? DateBasis.DATE_BASIS_UNSPECIFIED];
  if (!basis) problems.date_basis = 'must be CONVERSION or SEND';
  const range = validateDayRange(input, problems);
  const campaignIds = collect(problems, 'filter.campaign_ids', () => idFilter(input.filter?.campaignIds, 'filter.campaign_ids'));
  const offerIds = collect(problems, 'filter.offer_ids', () => idFilter(input.filter?.offerIds, 'filter.offer_ids'));
  const creativeIds = collect(problems, 'filter.creative_ids', () => idFilter(input.filter?.creativeIds, 'filter.creative_ids'));
  const partnerIds = collect(problems, 'filter.partner_ids', () => idFilter(input.filter?.partnerIds, 'filter.partner_ids'));
  const reportingCurrency = (input.reportingCurrency ?? '').trim();
  if (reportingCurrency && !/^[A-Z]{3}$/.test(reportingCurrency)) problems.reporting_currency = 'must be a 3-letter ISO 4217 code in upper case';
  if (Object.keys(problems).length) throw InvalidArgumentError.of(problems);
  return {
    dimension: dimension!, dimension2, basis: basis!, ...range!, campaignIds: campaignIds!, offerIds: offerIds!, creativeIds: creativeIds!, partnerIds: partnerIds!, reportingCurrency,
  };
}

function idFilter(ids: string[] | undefined, field: string): string[] {
  const list = ids ?? [];
  if (list.length > MAX_FILTER_IDS) throw new InvalidArgumentError(field, `must list at most ${MAX_FILTER_IDS} ids`);
  for (const id of list) assertId(id, field);
  return [...new Set(list)];
}

const BASES: Partial<Record<DateBasis, Basis>> = {
  [DateBasis.DATE_BASIS_UNSPECIFIED]: 'conversion',
  [DateBasis.DATE_BASIS_CONVERSION]: 'conversion',
  [DateBasis.DATE_BASIS_SEND]: 'send',
};

/** Checks a from/to/zone range alone (the reconciliation report). */
export function validateDayRangeQuery(input: { fromDate: string; toDate: string; timeZone: string }): DayRangeQuery {
  const problems: Record<string, string> = {};
  const range = validateDayRange(input, problems);
  if (Object.keys(problems).length) throw InvalidArgumentError.of(problems);
  return range!;
}

function validateDayRange(input: { fromDate: string; toDate: string; timeZone: string }, problems: Record<string, string>): DayRangeQuery | undefined {
  const from = collect(problems, 'from_date', () => parseLocalDate(input.fromDate, 'from_date'));
  const to = collect(problems, 'to_date', () => parseLocalDate(input.toDate, 'to_date'));
  const timeZone = collect(problems, 'time_zone', () => resolveTimeZone(input.timeZone));
  if (from !== undefined && to !== undefined) {
    if (from > to) problems.to_date = 'must not be before from_date';
    else if (to - from + 1 > MAX_RANGE_DAYS) problems.to_date = `must be at most ${MAX_RANGE_DAYS} days from from_date (inclusive)`;
  }
  if (from === undefined || to === undefined || timeZone === undefined || problems.to_date) return undefined;
  const days: string[] = [];
  for (let d = from; d <= to; d++) days.push(new Date(d * MS_PER_DAY).toISOString().slice(0, 10));
  return { fromDate: input.fromDate, toDate: input.toDate, days, timeZone };
}

/** 'YYYY-MM-DD' of a real calendar day -> days since 1970-01-01 (the kernel's calendar), else a field error. */
export function parseLocalDate(text: string, field: string): number {
  const day = epochDay(text ?? '');
  if (day !== undefined) return day;
  throw new InvalidArgumentError(field, !text ? 'is required (YYYY-MM-DD)' : DAY_SHAPE.test(text) ? `is not a calendar date: "${text}"` : `must be a date as YYYY-MM-DD, got "${text.slice(0, 20)}"`);
}

/** Empty means UTC; anything else must be an IANA zone name the runtime knows (the kernel's check). The caller's spelling is kept. */
export function resolveTimeZone(text: string): string {
  const zone = (text ?? '').trim();
  if (!zone) return 'UTC';
  if (!canonicalTimeZone(zone)) throw new InvalidArgumentError('time_zone', `must be a known IANA time zone such as America/New_York, got "${zone.slice(0, 64)}"`);
  return zone;
}

function collect<T>(problems: Record<string, string>, field: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (e instanceof InvalidArgumentError) {
      problems[field] = e.fields[field] ?? e.message;
      return undefined;
    }
    throw e;
  }
}
