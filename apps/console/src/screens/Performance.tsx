import { FormEvent, useId, useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Page } from '../App';
import { api, qs } from '../api';
import { Column, DataTable } from '../components/DataTable';
import { Amount } from '../components/Money';
import { NOT_APPLICABLE_CSV, NotApplicable } from '../components/NotApplicable';
import { PartnerPicker, usePartners } from '../components/PartnerPicker';
import { Status } from '../components/Status';
import { exactAmount, exactRatio, formatCount, formatRatio } from '../format';
import { figures, Figures, groupLabel, PerformanceReport, PerformanceRow } from '../metrics';
import { useSession } from '../session';

const GROUPS = ['creative', 'offer', 'campaign', 'date', 'partner'] as const;
const FILTERS = ['campaign', 'offer', 'creative', 'partner'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

interface Row {
  id: string;
  label: string;
  label2: string;
  f: Figures;
  /** Grouped or filtered by partner: send- and tap-based figures do not apply (reporting's activityNotApplicable). */
  na: boolean;
}

/** The gateway's row; by partner, its send- and tap-based figures are null and this flag is set. */
type ReportRow = PerformanceRow & { activityNotApplicable?: boolean };

export default function PerformanceScreen() {
  const { settings } = useSession();
  const ids = { group: useId(), then: useId(), basis: useId() };
  const [groupBy, setGroupBy] = useState<string>('creative');
  const [thenBy, setThenBy] = useState<string>('none');
  const [basis, setBasis] = useState<string>('conversion');
  const [draft, setDraft] = useState<Filters>({ campaign: '', offer: '', creative: '', partner: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const params = {
    group_by: groupBy,
    then_by: thenBy === 'none' ? undefined : thenBy,
    date_basis: basis,
    from: settings.from,
    to: settings.to,
    tz: settings.timeZone,
    ...Object.fromEntries(FILTERS.map((f) => [f, filters[f].split(/[\s,]+/).filter(Boolean).join(',')])),
  };
  const report = useQuery({ queryKey: ['performance', params], queryFn: () => api<PerformanceReport>(`/api/reports/performance${qs(params)}`) });
  const { partners, readable } = usePartners();
  const partnerNames = useMemo(() => new Map(partners.map((p) => [p.partnerId, p.name ?? ''])), [partners]);

  const rows = useMemo<Row[]>(() => {
    // Reporting names creatives, offers and campaigns; partners' names come from the partners list.
    const label = (dimension: string, key: string | undefined, name: string | undefined) =>
      dimension === 'date' ? (key ?? '') : groupLabel(key, dimension === 'partner' ? partnerNames.get(key ?? '') : name);
    return (report.data?.rows ?? []).map((r: ReportRow) => ({
      id: `${r.key ?? ''}|${r.key2 ?? ''}`,
      label: label(groupBy, r.key, r.name),
      label2: label(thenBy, r.key2, r.name2),
      f: figures(r),
      na: r.activityNotApplicable === true,
    }));
  }, [report.data, groupBy, thenBy, partnerNames]);
  const total = useMemo<Row | undefined>(
    () =>
      report.data
        ? { id: 'total', label: 'Total', label2: '', f: figures(report.data.total), na: (report.data.total as ReportRow | undefined)?.activityNotApplicable === true }
        : undefined,
    [report.data],
  );
  const currencies = useMemo(() => [...new Set([...rows, ...(total ? [total] : [])].flatMap((r) => r.f.money.map((m) => m.currency)))].sort(), [rows, total]);
  const columns = useMemo(() => performanceColumns(groupBy, thenBy, currencies), [groupBy, thenBy, currencies]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
  };
  return (
    <Page title="Performance">
      <form className="card controls" onSubmit={apply} aria-label="Grouping and filters">
        <div className="field">
          <label htmlFor={ids.group}>Group by</label>
          <select id={ids.group} value={groupBy} onChange={(e) => (setGroupBy(e.target.value), e.target.value === thenBy && setThenBy('none'))}>
            {GROUPS.map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.then}>Then by</label>
          <select id={ids.then} value={thenBy} onChange={(e) => setThenBy(e.target.value)}>
            <option>none</option>
            {GROUPS.filter((g) => g !== groupBy).map((g) => (
              <option key={g}>{g}</option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.basis}>Dates by</label>
          <select id={ids.basis} value={basis} onChange={(e) => setBasis(e.target.value)}>
            <option value="conversion">event date</option>
            <option value="send">send date (cohort)</option>
          </select>
        </div>
        {FILTERS.map((f) =>
          f === 'partner' ? (
            <PartnerPicker key={f} value={draft.partner} onChange={(v) => setDraft({ ...draft, partner: v })} partners={partners} readable={readable} />
          ) : (
            <FilterField key={f} name={f} value={draft[f]} onChange={(v) => setDraft({ ...draft, [f]: v })} />
          ),
        )}
        <div className="field actions">
          <button type="submit">Apply filters</button>
        </div>
        <Status pending={report.isFetching && !report.isPending} error={report.error} />
      </form>
      <Status pending={report.isPending && !report.error} empty={!!report.data && !rows.length} emptyText="No activity in this range for these filters.">
        {total?.na && rows.length > 0 && (
          <p className="status" data-testid="partner-note">
            By partner: sends and taps have no partner, so sends, engagements, taps, CTR, CVR, revenue per send and EPC show “—”.
          </p>
        )}
        {report.data && rows.length > 0 && (
          <DataTable rows={rows} total={total} columns={columns} caption="Performance" csvName={`trackly-performance-${groupBy}-${settings.from}-${settings.to}`} rowKey={(r) => r.id} testId="performance" />
        )}
      </Status>
    </Page>
  );
}

function FilterField({ name, value, onChange }: { name: string; value: string; onChange: (v: string) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{name[0].toUpperCase() + name.slice(1)} ids</label>
      <input id={id} value={value} placeholder="any" onChange={(e) => onChange(e.target.value)} spellCheck={false} />
    </div>
  );
}

/** A send- or tap-based column: "—" (with why, on hover) and "n/a" in the CSV where the row's activity does not apply. */
function activityBased(c: Column<Row>): Column<Row> {
  return {
    ...c,
    sort: (r) => (r.na ? -2 : c.sort!(r)),
    cell: (r) => (r.na ? <NotApplicable /> : c.cell(r)),
    csv: (r) => (r.na ? NOT_APPLICABLE_CSV : c.csv(r)),
  };
}

function performanceColumns(groupBy: string, thenBy: string, currencies: string[]): Column<Row>[] {
  const count = (id: string, header: string, get: (f: Figures) => bigint, hidden = false): Column<Row> => ({
    id, header, numeric: true, hidden, sort: (r) => get(r.f), cell: (r) => formatCount(get(r.f)), csv: (r) => get(r.f).toString(),
  });
  const ratio = (id: string, header: string, num: (f: Figures) => bigint, den: (f: Figures) => bigint, hidden = false): Column<Row> => ({
    id, header, numeric: true, hidden,
    sort: (r) => (den(r.f) === 0n ? -1 : Number((num(r.f) * 1_000_000n) / den(r.f))),
    cell: (r) => formatRatio(num(r.f), den(r.f)),
    csv: (r) => exactRatio(num(r.f), den(r.f)),
  });
  const money = (id: string, header: string, c: string, get: (m: Figures['money'][number]) => bigint | undefined, hidden = false): Column<Row> => {
    const of = (r: Row) => {
      const m = r.f.money.find((x) => x.currency === c);
      return m ? get(m) : undefined;
    };
    return {
      id: `${id}-${c}`, header: currencies.length > 1 ? `${header} (${c})` : header, numeric: true, hidden,
      sort: (r) => of(r) ?? 0n,
      cell: (r) => <Amount currency={c} value={of(r)} />,
      csv: (r) => {
        const v = of(r);
        return v === undefined ? '' : exactAmount(v);
      },
    };
  };
  const cols: Column<Row>[] = [
    { id: 'group', header: groupBy[0].toUpperCase() + groupBy.slice(1), sort: (r) => r.label, cell: (r) => r.label, csv: (r) => r.label },
  ];
  if (thenBy !== 'none') cols.push({ id: 'group2', header: thenBy[0].toUpperCase() + thenBy.slice(1), sort: (r) => r.label2, cell: (r) => r.label2, csv: (r) => r.label2 });
  cols.push(
    activityBased(count('sends', 'Sends', (f) => f.sends)),
    activityBased(count('engagements', 'Engagements', (f) => f.engagements)),
    activityBased(count('taps', 'Taps', (f) => f.taps, true)),
    activityBased(ratio('ctr', 'CTR', (f) => f.engagements, (f) => f.sends)),
    count('conversions', 'Conversions', (f) => f.conversions),
    activityBased(ratio('cvr', 'CVR', (f) => f.conversions, (f) => f.engagements)),
    count('reversedConversions', 'Reversed conv.', (f) => f.reversedConversions, true),
  );
  for (const c of currencies) {
    cols.push(
      money('revenue', 'Approved revenue', c, (m) => m.approved),
      money('pending', 'Pending revenue', c, (m) => m.pending, true),
      money('reversed', 'Reversed revenue', c, (m) => m.reversed, true),
      activityBased(money('perSend', 'Revenue / send', c, (m) => m.perSend)),
      activityBased(money('epc', 'EPC', c, (m) => m.epc)),
      money('viewThrough', 'View-through revenue', c, (m) => m.viewThrough, true),
      money('capped', 'Capped (held) revenue', c, (m) => m.capped, true),
      money('held', 'Held revenue', c, (m) => m.held, true),
    );
  }
  return cols;
}
