/**
 * CSV exports of the reports (RFC 4180: CRLF, quotes doubled). Money is written as exact decimal strings with the
 * currency in its own column; one line per group and currency, because totals are never converted. A text cell
 * starting with = + - @ is prefixed with an apostrophe so a spreadsheet never runs it as a formula.
 */
import { formatMicros } from '@trackly/kernel';
import {
  CohortMaturityRow,
  GetCohortMaturityResponse,
  GetContactJourneyResponse,
  GetMessageReportResponse,
  GetPerformanceReportResponse,
  GetReconciliationReportResponse,
  journeyEventKindToJSON,
  PerformanceRow,
  ReconciliationCount,
  RevenueTotal,
} from '@trackly/contracts/reporting/v1/reporting_service';
import type { Money } from '@trackly/contracts/common/v1/money';

type Cell = string | number | bigint | boolean | undefined | null;

const NUMBER = /^-?\d+(\.\d+)?$/;

export function csvCell(v: Cell): string {
  if (v === undefined || v === null) return '';
  let s = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s) && !NUMBER.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: string[], rows: Cell[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

const amount = (m: Money | undefined) => formatMicros(BigInt(m?.amountMicros || '0'));
/** A cell whose figure does not apply to the row (docs/reports.md: the partner dimension). */
export const NOT_APPLICABLE = 'n/a';
/** Money columns divided by sends or engagements: not applicable when the row's activity is not. */
const PER_ACTIVITY = new Set(['revenue_per_send', 'epc']);
/** Millionths as a decimal ratio: 120000 -> 0.12. */
const ratio = (ppm: string) => formatMicros(BigInt(ppm || '0'));

/**
 * One line per group (a `TOTAL` line last): counts once, money per currency in the same line, in columns named
 * with the currency (`revenue_USD`, `revenue_EUR`, …), so summing a column never counts a group twice.
 */
export function performanceCsv(r: GetPerformanceReportResponse): string {
  const all = [...r.rows, ...(r.total ? [r.total] : [])];
  const currencies = [...new Set(all.flatMap((row) => row.revenue.map((t) => t.revenue?.currencyCode ?? '').filter(Boolean)))].sort();
  const moneyColumns: [string, (t: RevenueTotal) => Cell][] = [
    ['conversions', (t) => t.conversions ?? '0'], ['revenue', (t) => amount(t.revenue)], ['pending_revenue', (t) => amount(t.pendingRevenue)],
    ['reversed_revenue', (t) => amount(t.reversed)], ['revenue_per_send', (t) => amount(t.revenuePerSend)], ['epc', (t) => amount(t.epc)],
    // Parts of the above, apart: click vs view-through revenue, capped and held pending amounts, test (with include_test).
    ['click_revenue', (t) => amount(t.clickRevenue)], ['view_through_revenue', (t) => amount(t.viewThroughRevenue)],
    ['view_through_conversions', (t) => t.viewThroughConversions ?? '0'], ['capped_revenue', (t) => amount(t.cappedRevenue)],
    ['capped_conversions', (t) => t.cappedConversions ?? '0'], ['held_revenue', (t) => amount(t.heldRevenue)],
    ['held_conversions', (t) => t.heldConversions ?? '0'], ['test_revenue', (t) => amount(t.testRevenue)], ['test_conversions', (t) => t.testConversions ?? '0'],
  ];
  const header = [
    // clicks are engagements (first taps of messages; unique_clicks the same number), taps every person's tap.
    'key', 'name', 'key2', 'name2', 'sends', 'clicks', 'unique_clicks', 'taps', 'conversions', 'reversed_conversions', 'ctr', 'cvr',
    ...currencies.flatMap((c) => moneyColumns.map(([name]) => `${name}_${c}`)),
  ];
  // With reporting_currency: the converted view after the original columns (which stay as they are).
  const target = all.find((row) => row.converted)?.converted?.revenue?.currencyCode;
  if (target) {
    header.push(
      `converted_revenue_${target}`, `converted_pending_revenue_${target}`, `converted_reversed_revenue_${target}`, 'converted_conversions',
      'fx_first_rate_day', 'fx_last_rate_day', 'fx_missing_conversions', 'fx_missing',
    );
  }
  const convertedCells = (row: PerformanceRow): Cell[] => {
    if (!target) return [];
    const x = row.converted;
    const missing = x?.fxMissing ?? [];
    return [
      amount(x?.revenue), amount(x?.pendingRevenue), amount(x?.reversed), x?.conversions ?? '0', x?.firstRateDay ?? '', x?.lastRateDay ?? '',
      missing.reduce((n, m) => n + BigInt(m.conversions || '0'), 0n).toString(),
      // Per original currency: amount, count and the conversion days without a rate, e.g. "GBP 4.00 x1 2026-03-02..2026-03-02".
      missing.map((m) => `${m.amount?.currencyCode} ${amount(m.amount)} x${m.conversions} ${m.firstDay}..${m.lastDay}`).join('; '),
    ];
  };
  // Grouped or filtered by partner, send- and tap-based cells are "n/a" (sends and taps have no partner), never 0.
  const na = (row: PerformanceRow, v: Cell): Cell => (row.activityNotApplicable ? NOT_APPLICABLE : v);
  const line = (row: PerformanceRow, key: string): Cell[] => [
    key, row.name, row.key2, row.name2,
    na(row, row.sends), na(row, row.clicks), na(row, row.uniqueClicks), na(row, row.taps), row.conversions, row.reversedConversions,
    na(row, ratio(row.ctrPpm)), na(row, ratio(row.cvrPpm)),
    ...currencies.flatMap((c) => {
      const t = row.revenue.find((x) => x.revenue?.currencyCode === c);
      return moneyColumns.map(([name, get]) =>
        PER_ACTIVITY.has(name) ? na(row, t ? get(t) : amount(undefined)) : t ? get(t) : name.endsWith('conversions') ? '0' : amount(undefined));
    }),
    ...convertedCells(row),
  ];
  const rows = r.rows.map((row) => line(row, row.key));
  if (r.total) rows.push(line(r.total, 'TOTAL'));
  return toCsv(header, rows);
}

export function reconciliationCsv(r: GetReconciliationReportResponse): string {
  const n = (c: ReconciliationCount | undefined) => [c?.count ?? '0', amount(c?.amount)];
  return toCsv(
    [
      'partner', 'date', 'currency', 'received', 'received_amount', 'credited', 'credited_amount', 'reversed', 'reversed_amount',
      'unattributed', 'unattributed_amount', 'unattributed_reasons', 'pending', 'pending_amount', 'partner_pending', 'partner_pending_amount',
      'received_direct', 'received_direct_amount', 'credited_over_cap', 'credited_over_cap_amount', 'held', 'held_amount', 'test', 'test_amount',
    ],
    r.rows.map((row) => {
      const unCount = row.unattributed.reduce((s, u) => s + BigInt(u.total?.count || '0'), 0n);
      const unMicros = row.unattributed.reduce((s, u) => s + BigInt(u.total?.amount?.amountMicros || '0'), 0n);
      return [
        row.partnerId, row.date, row.currencyCode, ...n(row.received), ...n(row.credited), ...n(row.reversed),
        unCount, formatMicros(unMicros), row.unattributed.map((u) => `${u.reason}=${u.total?.count ?? 0}`).join(' '),
        ...n(row.pending), ...n(row.receivedPendingStatus),
        ...n(row.receivedDirect), ...n(row.creditedOverCap), ...n(row.held), ...n(row.test),
      ];
    }),
  );
}

export function messageCsv(r: GetMessageReportResponse): string {
  const base = [r.messageId, r.contactId, r.phoneMasked, r.campaignId, r.creativeId, r.offerId, r.sentAt?.toISOString(), r.clicked, r.firstClickedAt?.toISOString(), r.clickCount];
  const header = [
    'message_id', 'contact_id', 'phone_masked', 'campaign_id', 'creative_id', 'offer_id', 'sent_at', 'clicked', 'first_clicked_at', 'click_count',
    'partner', 'conversion_id', 'click_id', 'occurred_at', 'status', 'currency', 'payout',
  ];
  if (!r.conversions.length) return toCsv(header, [[...base, '', '', '', '', '', '', '']]);
  return toCsv(
    header,
    r.conversions.map((c) => [...base, c.partnerId, c.conversionId, c.clickId, c.occurredAt?.toISOString(), c.status, c.payout?.currencyCode, amount(c.payout)]),
  );
}

export function journeyCsv(r: GetContactJourneyResponse): string {
  return toCsv(
    ['contact_id', 'at', 'kind', 'message_id', 'click_id', 'offer_id', 'conversion_id', 'currency', 'payout'],
    r.events.map((e) => [
      r.contactId, e.at?.toISOString(), journeyEventKindToJSON(e.kind).replace('JOURNEY_EVENT_KIND_', ''), e.messageId, e.clickId, e.offerId,
      e.conversionId, e.payout?.currencyCode, e.payout ? amount(e.payout) : '',
    ]),
  );
}

export function maturityCsv(r: GetCohortMaturityResponse): string {
  // An immature point (cohort younger than its days) is one line with empty amounts and immature=true.
  const lines = (row: CohortMaturityRow, key: string): Cell[][] =>
    row.points.flatMap((p) =>
      p.immature
        ? [[key, row.name, row.sends, p.days, '', '', '', true, p.maturesAt?.toISOString()]]
        : p.revenue.map((m, i) => [key, row.name, row.sends, p.days, m.currencyCode, amount(m), amount(p.revenuePerSend[i]), false, p.maturesAt?.toISOString()]),
    );
  const rows = r.rows.flatMap((row) => lines(row, row.key));
  if (r.total) rows.push(...lines(r.total, 'TOTAL'));
  return toCsv(['key', 'name', 'sends', 'days', 'currency', 'revenue', 'revenue_per_send', 'immature', 'matures_at'], rows);
}
