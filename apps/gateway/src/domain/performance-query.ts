/**
 * Query parameters of GET /api/reports/performance: group_by, then_by (optional second grouping), date_basis
 * (conversion | send), from, to (local days, inclusive) and tz (IANA). All problems are reported together, one
 * message per field.
 */
import {
  DateBasis,
  GetCohortMaturityRequest,
  GetPerformanceReportRequest,
  GetReconciliationReportRequest,
  ReportGrouping,
} from '@trackly/contracts/reporting/v1/reporting_service';
import { addDays, canonicalTimeZone, epochDay, InvalidArgumentError, localDay } from '@trackly/kernel';

export const GROUPINGS: Record<string, ReportGrouping> = {
  creative: ReportGrouping.REPORT_GROUPING_CREATIVE,
  offer: ReportGrouping.REPORT_GROUPING_OFFER,
  campaign: ReportGrouping.REPORT_GROUPING_CAMPAIGN,
  date: ReportGrouping.REPORT_GROUPING_DATE,
  // Conversions only: grouped by partner, send- and tap-based figures are not applicable (docs/reports.md).
  partner: ReportGrouping.REPORT_GROUPING_PARTNER,
};

/** Without from/to, the report covers this many local days ending today. */
export const DEFAULT_RANGE_DAYS = 30;
export const DEFAULT_TIME_ZONE = 'UTC';

/** Raw query values as Express hands them: absent, a string, or an array/object for repeated or nested keys. */
export type QueryValue = unknown;

export const DATE_BASES: Record<string, DateBasis> = {
  conversion: DateBasis.DATE_BASIS_CONVERSION,
  send: DateBasis.DATE_BASIS_SEND,
};

export interface PerformanceQuery {
  group_by?: QueryValue;
  then_by?: QueryValue;
  date_basis?: QueryValue;
  from?: QueryValue;
  to?: QueryValue;
  tz?: QueryValue;
  format?: QueryValue;
  campaign?: QueryValue;
  offer?: QueryValue;
  creative?: QueryValue;
  partner?: QueryValue;
  include_test?: QueryValue;
  reporting_currency?: QueryValue;
}

/** The performance report's parameters; any other is refused (400), never silently ignored. */
export const PERFORMANCE_PARAMS = [
  'group_by', 'then_by', 'date_basis', 'from', 'to', 'tz', 'format', 'campaign', 'offer', 'creative', 'partner', 'include_test', 'reporting_currency',
] as const;
export const RECONCILIATION_PARAMS = ['from', 'to', 'tz', 'partner', 'format', 'include_test'] as const;
export const MATURITY_PARAMS = ['from', 'to', 'tz', 'group_by', 'format', 'include_test'] as const;

/** `include_test`: true or false (default): test conversions are left out of every figure unless asked for. */
function parseIncludeTest(single: (field: 'include_test') => string | undefined, errors: Record<string, string>): boolean {
  const v = single('include_test');
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  errors.include_test = 'must be true or false';
  return false;
}

/** Filters of the performance report: ids, repeated (`campaign=a&campaign=b`) or comma-separated (`campaign=a,b`). */
export interface PerformanceFilters {
  campaignIds: string[];
  offerIds: string[];
  creativeIds: string[];
  partnerIds: string[];
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const MAX_FILTER_IDS = 100;

/** Records every parameter not in `known` as a field error. */
export function unknownParams(query: object, known: readonly string[], errors: Record<string, string>): void {
  for (const name of Object.keys(query)) {
    if (!known.includes(name)) errors[name.slice(0, 64)] = `is not a parameter here (known: ${known.join(', ')})`;
  }
}

/** Refuses (400) a query with any parameter not in `known`. */
export function rejectUnknownParams(query: object, known: readonly string[]): void {
  const errors: Record<string, string> = {};
  unknownParams(query, known, errors);
  if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
}

/** A list of ids from a repeated and/or comma-separated parameter; empty when absent. */
export function idList(v: QueryValue, field: string, errors: Record<string, string>): string[] {
  if (v === undefined || v === '') return [];
  const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',') : [undefined]));
  if (parts.some((x) => x === undefined)) {
    errors[field] = 'must be ids, repeated or comma-separated';
    return [];
  }
  const ids = [...new Set((parts as string[]).map((x) => x.trim()).filter(Boolean))];
  if (ids.length > MAX_FILTER_IDS) errors[field] = `must name at most ${MAX_FILTER_IDS} ids`;
  else if (ids.some((id) => !ID.test(id))) errors[field] = 'must be ids of 1-128 letters, digits, ".", "_", ":" or "-"';
  return ids;
}

export function parsePerformanceFilters(query: PerformanceQuery): PerformanceFilters {
  const errors: Record<string, string> = {};
  const filters = {
    campaignIds: idList(query.campaign, 'campaign', errors),
    offerIds: idList(query.offer, 'offer', errors),
    creativeIds: idList(query.creative, 'creative', errors),
    partnerIds: idList(query.partner, 'partner', errors),
  };
  if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
  return filters;
}

export interface RangeQuery {
  from?: QueryValue;
  to?: QueryValue;
  tz?: QueryValue;
  partner?: QueryValue;
  format?: QueryValue;
  include_test?: QueryValue;
}

/** Reads each parameter as one string (or absent), recording "given more than once" as a field error. */
function singles<Q extends object>(query: Q, errors: Record<string, string>) {
  return (field: keyof Q & string): string | undefined => {
    const v = (query as Record<string, unknown>)[field];
    if (v === undefined || v === '') return undefined;
    if (typeof v !== 'string') {
      errors[field] = 'must be given once';
      return undefined;
    }
    return v.trim();
  };
}

/** `format`: json (default) or csv. */
export function parseFormat(query: { format?: QueryValue }): 'json' | 'csv' {
  const v = query.format;
  if (v === undefined || v === '' || v === 'json') return 'json';
  if (v === 'csv') return 'csv';
  throw InvalidArgumentError.of({ format: 'must be json or csv' });
}

/** GET /api/reports/reconciliation: from, to, tz as for performance, and an optional partner. */
export function parseReconciliationQuery(query: RangeQuery, now: Date): GetReconciliationReportRequest {
  const errors: Record<string, string> = {};
  unknownParams(query, RECONCILIATION_PARAMS, errors);
  const single = singles(query, errors);
  const partnerId = single('partner') ?? '';
  const includeTest = parseIncludeTest(single, errors);
  const range = parseRange(single, errors, now);
  if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
  return { ...range(), partnerId, includeTest };
}

/** GET /api/reports/maturity: the send days (from, to, tz as for performance) and an optional group_by. */
export function parseMaturityQuery(query: RangeQuery & { group_by?: QueryValue }, now: Date): GetCohortMaturityRequest {
  const errors: Record<string, string> = {};
  unknownParams(query, MATURITY_PARAMS, errors);
  const single = singles(query, errors);
  const groupText = single('group_by')?.toLowerCase();
  let groupBy = ReportGrouping.REPORT_GROUPING_UNSPECIFIED;
  if (groupText !== undefined && groupText !== 'none') {
    if (groupText === 'date' || groupText === 'partner' || !Object.hasOwn(GROUPINGS, groupText)) errors.group_by = 'must be one of creative, offer, campaign';
    else groupBy = GROUPINGS[groupText];
  }
  const includeTest = parseIncludeTest(single, errors);
  const range = parseRange(single, errors, now);
  if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
  return { ...range(), groupBy, includeTest };
}

/**
 * The request without its filter: campaign and offer filters are merged with the API key's grant by the caller
 * (scopedFilter), creative and partner filters are checked by it too (parsePerformanceFilters).
 */
export function parsePerformanceQuery(query: PerformanceQuery, now: Date): GetPerformanceReportRequest {
  const errors: Record<string, string> = {};
  unknownParams(query, PERFORMANCE_PARAMS, errors);
  const single = singles(query, errors);

  const groupText = single('group_by');
  let groupBy = ReportGrouping.REPORT_GROUPING_UNSPECIFIED;
  if (groupText === undefined) {
    if (!errors.group_by) errors.group_by = `is required: one of ${Object.keys(GROUPINGS).join(', ')}`;
  } else if (Object.hasOwn(GROUPINGS, groupText.toLowerCase())) {
    groupBy = GROUPINGS[groupText.toLowerCase()];
  } else {
    errors.group_by = `must be one of ${Object.keys(GROUPINGS).join(', ')}`;
  }

  let thenBy = ReportGrouping.REPORT_GROUPING_UNSPECIFIED;
  const thenText = single('then_by');
  if (thenText !== undefined && thenText.toLowerCase() !== 'none') {
    if (!Object.hasOwn(GROUPINGS, thenText.toLowerCase())) errors.then_by = `must be one of ${Object.keys(GROUPINGS).join(', ')}`;
    else if (GROUPINGS[thenText.toLowerCase()] === groupBy) errors.then_by = 'must differ from group_by';
    else thenBy = GROUPINGS[thenText.toLowerCase()];
  }

  let dateBasis = DateBasis.DATE_BASIS_CONVERSION;
  const basisText = single('date_basis');
  if (basisText !== undefined) {
    if (Object.hasOwn(DATE_BASES, basisText.toLowerCase())) dateBasis = DATE_BASES[basisText.toLowerCase()];
    else errors.date_basis = `must be one of ${Object.keys(DATE_BASES).join(', ')}`;
  }

  const includeTest = parseIncludeTest(single, errors);
  // Optional: revenue also converted into this currency at dated FX rates (reporting's fx_rates); "eur" reads EUR.
  const currencyText = (single('reporting_currency') ?? '').trim();
  let reportingCurrency = '';
  if (currencyText) {
    if (/^[A-Za-z]{3}$/.test(currencyText)) reportingCurrency = currencyText.toUpperCase();
    else errors.reporting_currency = 'must be a 3-letter ISO 4217 code, e.g. USD';
  }
  const range = parseRange(single, errors, now);
  if (Object.keys(errors).length) throw InvalidArgumentError.of(errors);
  return { groupBy, ...range(), thenBy, dateBasis, filter: undefined, includeTest, reportingCurrency };
}

/** from/to/tz with their defaults; call the returned function once the errors are known to be empty. */
function parseRange(single: (field: 'from' | 'to' | 'tz') => string | undefined, errors: Record<string, string>, now: Date) {
  let timeZone: string | undefined = DEFAULT_TIME_ZONE;
  const tzText = single('tz');
  if (tzText !== undefined) {
    timeZone = canonicalTimeZone(tzText);
    if (!timeZone) errors.tz = 'must be an IANA time zone such as UTC or America/New_York';
  }

  const fromText = single('from');
  const toText = single('to');
  const from = fromText === undefined ? undefined : parseDay(fromText);
  const to = toText === undefined ? undefined : parseDay(toText);
  if (fromText !== undefined && from === undefined) errors.from = 'must be a date YYYY-MM-DD';
  if (toText !== undefined && to === undefined) errors.to = 'must be a date YYYY-MM-DD';

  return () => {
    // Defaults: a missing end is today in the report's zone; a missing start is 30 days before the end, inclusive.
    const toDay = to ?? localDay(now, timeZone!);
    const fromDay = from ?? addDays(toDay, -(DEFAULT_RANGE_DAYS - 1));
    if (fromDay > toDay) throw InvalidArgumentError.of({ from: `must not be after to (${toDay})` });
    return { fromDate: fromDay, toDate: toDay, timeZone: timeZone! };
  };
}

/** "2026-02-28" -> itself; "2026-02-30", "2026-2-3" -> undefined (the kernel's calendar decides). */
export function parseDay(text: string): string | undefined {
  return epochDay(text) === undefined ? undefined : text;
}
