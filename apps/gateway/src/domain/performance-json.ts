/**
 * The performance report as the API's JSON. proto3 JSON leaves zero numbers out, so an absent `sends` reads as 0:
 * a row whose send- and tap-based figures are not applicable (grouped or filtered by partner: sends and taps have no
 * partner) gets them as explicit nulls instead, never a number a reader could take for a measured zero.
 */
import { GetPerformanceReportResponse, PerformanceRow } from '@trackly/contracts/reporting/v1/reporting_service';

/** The row fields that count sends or taps, or divide by them (revenue per send and EPC are left unset by reporting). */
export const ACTIVITY_FIELDS = ['sends', 'clicks', 'uniqueClicks', 'taps', 'ctrPpm', 'cvrPpm'] as const;

/** The report's proto3 JSON with those nulls; used as its codec by the controller's JSON-or-CSV answer (which adds Money amounts). */
export const PerformanceJson = { toJSON: performanceJson };

function performanceJson(report: GetPerformanceReportResponse): unknown {
  const json = GetPerformanceReportResponse.toJSON(report) as { rows?: Record<string, unknown>[]; total?: Record<string, unknown> };
  const mark = (wire: PerformanceRow | undefined, row: Record<string, unknown> | undefined) => {
    if (!wire?.activityNotApplicable || !row) return;
    for (const f of ACTIVITY_FIELDS) row[f] = null;
    for (const t of (row.revenue as Record<string, unknown>[] | undefined) ?? []) {
      t.revenuePerSend = null;
      t.epc = null;
    }
  };
  report.rows.forEach((r, i) => mark(r, json.rows?.[i]));
  mark(report.total, json.total);
  return json;
}
