import { useId, useMemo, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Page } from '../App';
import { api, qs } from '../api';
import { LineChart } from '../components/LineChart';
import { Amount } from '../components/Money';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { addDays, daysBetween, formatCount, formatMoney, formatRatio } from '../format';
import { figures, Figures, PerformanceReport } from '../metrics';
import { Settings, useSession } from '../session';

/** The period just before [from, to], of the same length. */
export function previousPeriod(s: Settings): Settings {
  const days = daysBetween(s.from, s.to).length;
  return { ...s, from: addDays(s.from, -days), to: addDays(s.from, -1) };
}

function byDate(s: Settings) {
  return {
    queryKey: ['performance', 'date', s.from, s.to, s.timeZone],
    queryFn: () => api<PerformanceReport>(`/api/reports/performance${qs({ group_by: 'date', from: s.from, to: s.to, tz: s.timeZone })}`),
  };
}

type Metric = { id: string; label: string; value: (f: Figures) => bigint; money?: string };

export function OverviewScreen() {
  const { settings } = useSession();
  const current = useQuery(byDate(settings));
  const previous = useQuery(byDate(previousPeriod(settings)));
  const now = figures(current.data?.total);
  const before = figures(previous.data?.total);
  const currencies = [...new Set([...now.money, ...before.money].map((m) => m.currency))].sort();
  return (
    <Page title="Overview">
      <p className="lede">
        {settings.from} to {settings.to} ({settings.timeZone}), compared with the {daysBetween(settings.from, settings.to).length} days before.
      </p>
      <Status pending={current.isPending} error={current.error ?? previous.error}>
        <ul className="kpis" aria-label="Key figures">
          <Kpi label="Sends" now={now.sends} before={before.sends} show={formatCount} />
          <Kpi label="Engagements" hint="first human click of a message" now={now.engagements} before={before.engagements} show={formatCount} />
          <RatioKpi label="CTR" hint="engagements / sends" now={[now.engagements, now.sends]} before={[before.engagements, before.sends]} />
          <Kpi label="Conversions" now={now.conversions} before={before.conversions} show={formatCount} />
          {(currencies.length ? currencies : ['USD']).map((c) => {
            const n = now.money.find((m) => m.currency === c);
            const b = before.money.find((m) => m.currency === c);
            const money = (v: bigint) => formatMoney(c, v);
            return [
              <Kpi key={`a${c}`} label={`Approved revenue (${c})`} now={n?.approved ?? 0n} before={b?.approved ?? 0n} show={money} exact={c} />,
              <Kpi key={`p${c}`} label={`Pending revenue (${c})`} now={n?.pending ?? 0n} before={b?.pending ?? 0n} show={money} exact={c} />,
              <Kpi key={`r${c}`} label={`Reversed revenue (${c})`} now={n?.reversed ?? 0n} before={b?.reversed ?? 0n} show={money} exact={c} lowerIsBetter />,
              <Kpi key={`s${c}`} label={`Revenue / send (${c})`} now={n?.perSend} before={b?.perSend} show={money} exact={c} />,
              <Kpi key={`e${c}`} label={`EPC (${c})`} hint="approved revenue / engagements" now={n?.epc} before={b?.epc} show={money} exact={c} />,
            ];
          })}
        </ul>
        <Series report={current.data} settings={settings} currencies={currencies} />
      </Status>
    </Page>
  );
}

function change(now: bigint | undefined, before: bigint | undefined): { text: string; dir: 'up' | 'down' | 'flat' } {
  if (now === undefined || before === undefined) return { text: 'no comparison', dir: 'flat' };
  if (before === 0n) return now === 0n ? { text: 'no change', dir: 'flat' } : { text: 'new', dir: 'up' };
  const diff = now - before;
  const pct = formatRatio(diff < 0n ? -diff : diff, before < 0n ? -before : before);
  return diff === 0n ? { text: 'no change', dir: 'flat' } : { text: `${diff > 0n ? '+' : '−'}${pct}`, dir: diff > 0n ? 'up' : 'down' };
}

function Kpi({ label, hint, now, before, show, exact, lowerIsBetter }: {
  label: string;
  hint?: string;
  now: bigint | undefined;
  before: bigint | undefined;
  show: (v: bigint) => string;
  exact?: string;
  lowerIsBetter?: boolean;
}) {
  const c = change(now, before);
  const good = c.dir === 'flat' ? '' : (c.dir === 'up') !== !!lowerIsBetter ? 'good' : 'bad';
  return (
    <li className="kpi">
      <span className="kpi-label" title={hint}>
        {label}
      </span>
      <span className="kpi-value">{now === undefined ? '–' : exact ? <Amount currency={exact} value={now} /> : show(now)}</span>
      <span className={`kpi-change ${good}`}>
        {c.text} <span className="muted">vs {before === undefined ? '–' : show(before)}</span>
      </span>
    </li>
  );
}

function RatioKpi({ label, hint, now, before }: { label: string; hint: string; now: [bigint, bigint]; before: [bigint, bigint] }) {
  // Percentage points: compare the two ratios in millionths.
  const ppm = ([n, d]: [bigint, bigint]) => (d === 0n ? undefined : (n * 1_000_000n) / d);
  const a = ppm(now);
  const b = ppm(before);
  const c = change(a, b);
  return (
    <li className="kpi">
      <span className="kpi-label" title={hint}>
        {label}
      </span>
      <span className="kpi-value">{formatRatio(now[0], now[1])}</span>
      <span className={`kpi-change ${c.dir === 'up' ? 'good' : c.dir === 'down' ? 'bad' : ''}`}>
        {c.text} <span className="muted">vs {formatRatio(before[0], before[1])}</span>
      </span>
    </li>
  );
}

function Series({ report, settings, currencies }: { report: PerformanceReport | undefined; settings: Settings; currencies: string[] }) {
  const metrics: Metric[] = useMemo(
    () => [
      { id: 'sends', label: 'Sends', value: (f) => f.sends },
      { id: 'engagements', label: 'Engagements', value: (f) => f.engagements },
      { id: 'taps', label: 'Taps', value: (f) => f.taps },
      { id: 'conversions', label: 'Conversions', value: (f) => f.conversions },
      ...currencies.map((c) => ({ id: `revenue-${c}`, label: `Approved revenue (${c})`, money: c, value: (f: Figures) => f.money.find((m) => m.currency === c)?.approved ?? 0n })),
    ],
    [currencies],
  );
  const [metricId, setMetricId] = useState('sends');
  const pick = useId();
  const metric = metrics.find((m) => m.id === metricId) ?? metrics[0];
  // Every day of the range, zero where the report has no row.
  const labels = useMemo(() => daysBetween(settings.from, settings.to), [settings.from, settings.to]);
  const values = useMemo(() => {
    const rows = new Map((report?.rows ?? []).map((r) => [r.key ?? '', figures(r)]));
    return labels.map((d) => {
      const f = rows.get(d);
      const v = f ? metric.value(f) : 0n;
      return metric.money ? Number(v) / 1e6 : Number(v);
    });
  }, [report, labels, metric]);
  const format = useMemo(
    () => (metric.money ? (v: number) => formatMoney(metric.money!, BigInt(Math.round(v * 1e6))) : (v: number) => formatCount(BigInt(Math.round(v)))),
    [metric],
  );
  return (
    <section className="card" aria-labelledby="series-title">
      <div className="card-head">
        <h2 id="series-title">By day</h2>
        <label htmlFor={pick}>Metric</label>
        <select id={pick} value={metric.id} onChange={(e) => setMetricId(e.target.value)}>
          {metrics.map((m) => (
            <option key={m.id} value={m.id}>
              {m.label}
            </option>
          ))}
        </select>
      </div>
      <LineChart labels={labels} values={values} label={metric.label} format={format} ariaLabel={`${metric.label} per day, ${settings.from} to ${settings.to}`} />
      <details>
        <summary>The numbers</summary>
        <Table label={`${metric.label} per day`} headings={['Day', num(metric.label)]}>
          {labels.map((d, i) => (
            <tr key={d}>
              <td>{d}</td>
              <td className="num">{format(values[i])}</td>
            </tr>
          ))}
        </Table>
      </details>
    </section>
  );
}

