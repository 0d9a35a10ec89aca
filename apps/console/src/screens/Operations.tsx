import { FormEvent, useId, useMemo, useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api, qs, upload } from '../api';
import { Amount } from '../components/Money';
import { Reattribution } from '../components/Reattribution';
import { Status } from '../components/Status';
import { addDays, exactAmount, formatCount, Money, micros, zonedMidnight } from '../format';
import { useSession } from '../session';

/** Operations: CSV import, replay, re-attribution, reconciliation against the partner's own totals, cohort maturity. */
export default function OperationsScreen() {
  return (
    <Page title="Operations">
      <nav className="subnav" aria-label="Operations">
        <a href="#import">CSV import</a> <a href="#replay">Replay</a> <a href="#reattribution">Re-attribution</a> <a href="#reconciliation">Reconciliation</a>{' '}
        <a href="#maturity">Cohort maturity</a>
      </nav>
      <NeedsScope scope="operations:write">
        <Import />
        <Replay />
        <ReattributionSection />
      </NeedsScope>
      <NeedsScope scope="reports:read">
        <Reconciliation />
        <Maturity />
      </NeedsScope>
    </Page>
  );
}

interface ImportResult {
  rows?: string;
  stored?: string;
  duplicates?: string;
  adjusted?: string;
  rejected?: string;
  errors?: { line?: string; message: string }[];
}

function Import() {
  const ids = { partner: useId(), file: useId() };
  const [partner, setPartner] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<[number, number] | null>(null);
  const run = useMutation({
    mutationFn: () => upload<ImportResult>(`/api/operations/import${qs({ partner: partner.trim() })}`, file!, (sent, total) => setProgress([sent, total])),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setProgress([0, file?.size ?? 0]);
    run.mutate();
  };
  const r = run.data;
  return (
    <section className="card" id="import" aria-labelledby="import-title">
      <h2 id="import-title">CSV import</h2>
      <p className="muted">
        Columns <code>click_id, conversion_id, payout, currency, status, occurred_at</code>, header row first. Rows already stored are duplicates, never
        counted twice.
      </p>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.partner}>Partner id</label>
          <input id={ids.partner} value={partner} onChange={(e) => setPartner(e.target.value)} required spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.file}>CSV file</label>
          <input id={ids.file} type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
        </div>
        <div className="button-row">
          <button type="submit" disabled={run.isPending || !file}>
            Upload and import
          </button>
          {progress && run.isPending && (
            <label className="progress">
              Uploading <progress max={progress[1] || 1} value={progress[0]} /> {formatCount(progress[0])} of {formatCount(progress[1])} bytes
            </label>
          )}
          <Status pending={run.isPending} error={run.error} />
        </div>
      </form>
      {r && (
        <div className="card inner" data-testid="import-result" role="status">
          <p>
            {formatCount(r.rows)} rows: {formatCount(r.stored)} stored, {formatCount(r.duplicates)} duplicates, {formatCount(r.adjusted)} adjusted,{' '}
            <strong>{formatCount(r.rejected)} refused</strong>.
          </p>
          {!!r.errors?.length && (
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Refused rows">
              <table>
                <caption>Refused rows (fix them and import the file again: the stored rows are not imported twice)</caption>
                <thead>
                  <tr>
                    <th scope="col" className="num">Line</th>
                    <th scope="col">Problem</th>
                  </tr>
                </thead>
                <tbody>
                  {r.errors.map((e, i) => (
                    <tr key={i}>
                      <td className="num">{e.line}</td>
                      <td>{e.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

interface ReplayResult {
  dryRun?: boolean;
  results?: { requestId: string; originalOutcome?: string; outcome?: string; reasonCode?: string; reason?: string; conversionId?: string }[];
  outcomeCounts?: Record<string, string>;
  truncated?: boolean;
}

/** A day range in the chosen zone as the instants [from 00:00, the day after `to` 00:00). */
function instants(from: string, to: string, timeZone: string) {
  return { from: zonedMidnight(from, timeZone).toISOString(), to: zonedMidnight(addDays(to, 1), timeZone).toISOString() };
}

function Replay() {
  const { settings } = useSession();
  const ids = { partner: useId(), from: useId(), to: useId(), outcomes: useId() };
  const [form, setForm] = useState({ partner: '', from: settings.from, to: settings.to, outcomes: '' });
  const run = useMutation({
    mutationFn: (dryRun: boolean) =>
      api<ReplayResult>('/api/operations/replay', {
        method: 'POST',
        body: {
          partner: form.partner.trim(), ...instants(form.from, form.to, settings.timeZone), dry_run: dryRun,
          outcomes: form.outcomes.split(/[\s,]+/).filter(Boolean),
        },
      }),
  });
  const r = run.data;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    run.mutate(true);
  };
  return (
    <section className="card" id="replay" aria-labelledby="replay-title">
      <h2 id="replay-title">Replay archived postbacks</h2>
      <p className="muted">After a mapping or token fix: what the partner's archived requests become with its current settings. Dry run first.</p>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.partner}>Partner id</label>
          <input id={ids.partner} value={form.partner} onChange={(e) => setForm({ ...form, partner: e.target.value })} required />
        </div>
        <div className="field">
          <label htmlFor={ids.from}>Received from ({settings.timeZone})</label>
          <input id={ids.from} type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} required />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>Received to (inclusive)</label>
          <input id={ids.to} type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} required />
        </div>
        <div className="field">
          <label htmlFor={ids.outcomes}>Original outcomes (empty: the refused and failed)</label>
          <input id={ids.outcomes} value={form.outcomes} onChange={(e) => setForm({ ...form, outcomes: e.target.value })} placeholder="unauthorized, invalid" />
        </div>
        <div className="button-row">
          <button type="submit" disabled={run.isPending}>
            Dry run
          </button>
          {r?.dryRun && (
            <button type="button" className="danger" onClick={() => run.mutate(false)} disabled={run.isPending || !r.results?.length}>
              Apply the replay
            </button>
          )}
          <Status pending={run.isPending} error={run.error} />
        </div>
      </form>
      {r && (
        <div className="card inner" data-testid="replay-result" role="status">
          <p>
            {r.dryRun ? 'Dry run, nothing stored: ' : 'Replayed: '}
            {Object.entries(r.outcomeCounts ?? {}).map(([k, v]) => `${formatCount(v)} ${k}`).join(', ') || 'no request matched'}
            {r.truncated ? ' (more matched than the limit: replay again from the last one)' : ''}.
          </p>
          {!!r.results?.length && (
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Replayed requests">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Request</th>
                    <th scope="col">Was</th>
                    <th scope="col">Becomes</th>
                    <th scope="col">Why</th>
                    <th scope="col">Conversion</th>
                  </tr>
                </thead>
                <tbody>
                  {r.results.map((x) => (
                    <tr key={x.requestId}>
                      <td>
                        <code>{x.requestId}</code>
                      </td>
                      <td>{x.originalOutcome}</td>
                      <td>
                        <strong>{x.outcome}</strong>
                      </td>
                      <td>{x.reason || x.reasonCode}</td>
                      <td>{x.conversionId}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}

function ReattributionSection() {
  const { settings } = useSession();
  const ids = { offer: useId(), from: useId(), to: useId() };
  const [form, setForm] = useState({ offer: '', from: settings.from, to: settings.to });
  const request = useMemo(() => ({ offer: form.offer.trim() || undefined, ...instants(form.from, form.to, settings.timeZone) }), [form, settings.timeZone]);
  return (
    <section className="card" id="reattribution" aria-labelledby="reattribution-title">
      <h2 id="reattribution-title">Re-attribution</h2>
      <p className="muted">Re-runs the current rules over conversions decided in the range (and offer): the revenue diff first, then apply.</p>
      <div className="form grid-form">
        <div className="field">
          <label htmlFor={ids.offer}>Offer id (optional)</label>
          <input id={ids.offer} value={form.offer} onChange={(e) => setForm({ ...form, offer: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.from}>Conversions from ({settings.timeZone})</label>
          <input id={ids.from} type="date" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>to (inclusive)</label>
          <input id={ids.to} type="date" value={form.to} onChange={(e) => setForm({ ...form, to: e.target.value })} />
        </div>
      </div>
      <Reattribution key={JSON.stringify(request)} request={request} />
    </section>
  );
}

interface Count {
  count?: string;
  amount?: Money;
}
interface ReconciliationRow {
  partnerId: string;
  date: string;
  currencyCode: string;
  received?: Count;
  credited?: Count;
  reversed?: Count;
  pending?: Count;
  receivedPendingStatus?: Count;
  unattributed?: { reason: string; total?: Count }[];
}

/**
 * Our books per partner, day and currency next to the partner platform's own totals, typed in by the person: the
 * difference of each is computed as soon as it is entered (in exact micros).
 */
function Reconciliation() {
  const { settings } = useSession();
  const pid = useId();
  const [partner, setPartner] = useState('');
  const [applied, setApplied] = useState('');
  const [theirs, setTheirs] = useState<Record<string, { count: string; amount: string }>>({});
  const q = useQuery({
    queryKey: ['reconciliation', settings, applied],
    queryFn: () => api<{ rows?: ReconciliationRow[] }>(`/api/reports/reconciliation${qs({ from: settings.from, to: settings.to, tz: settings.timeZone, partner: applied })}`),
  });
  const rows = q.data?.rows ?? [];
  return (
    <section className="card" id="reconciliation" aria-labelledby="rec-title">
      <h2 id="rec-title">Reconciliation with the partner's totals</h2>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(partner.trim());
        }}
      >
        <label htmlFor={pid}>Partner id (empty: all)</label>
        <input id={pid} value={partner} onChange={(e) => setPartner(e.target.value)} />
        <button type="submit">Show</button>
        <Status pending={q.isFetching} error={q.error} />
      </form>
      <Status empty={!!q.data && !rows.length} emptyText="No postback received in this range.">
        {rows.length > 0 && (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Reconciliation">
            <table data-testid="reconciliation">
              <thead>
                <tr>
                  <th scope="col">Partner · day</th>
                  <th scope="col" className="num">Received</th>
                  <th scope="col" className="num">Credited</th>
                  <th scope="col" className="num">Unattributed</th>
                  <th scope="col" className="num">Pending</th>
                  <th scope="col">Partner's conversions</th>
                  <th scope="col">Partner's payout</th>
                  <th scope="col" className="num">Difference</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => {
                  const key = `${r.partnerId}|${r.date}|${r.currencyCode}`;
                  const t = theirs[key] ?? { count: '', amount: '' };
                  const unCount = (r.unattributed ?? []).reduce((s, u) => s + BigInt(u.total?.count ?? 0), 0n);
                  const unAmount = (r.unattributed ?? []).reduce((s, u) => s + micros(u.total?.amount), 0n);
                  const set = (k: 'count' | 'amount', v: string) => setTheirs({ ...theirs, [key]: { ...t, [k]: v } });
                  const diffCount = /^\d+$/.test(t.count) ? BigInt(t.count) - BigInt(r.received?.count ?? 0) : undefined;
                  const theirMicros = parseAmount(t.amount);
                  const diffAmount = theirMicros === undefined ? undefined : theirMicros - micros(r.received?.amount);
                  return (
                    <tr key={key}>
                      <th scope="row">
                        {r.partnerId} · {r.date} · {r.currencyCode}
                      </th>
                      <td className="num">
                        {formatCount(r.received?.count)} · <Amount currency={r.currencyCode} value={micros(r.received?.amount)} />
                      </td>
                      <td className="num">
                        {formatCount(r.credited?.count)} · <Amount currency={r.currencyCode} value={micros(r.credited?.amount)} />
                      </td>
                      <td className="num" title={(r.unattributed ?? []).map((u) => `${u.reason}: ${u.total?.count ?? 0}`).join(', ')}>
                        {formatCount(unCount)} · <Amount currency={r.currencyCode} value={unAmount} />
                      </td>
                      <td className="num">{formatCount(r.pending?.count)}</td>
                      <td>
                        <input aria-label={`Partner's conversions, ${r.partnerId} ${r.date}`} inputMode="numeric" size={6} value={t.count} onChange={(e) => set('count', e.target.value.trim())} />
                      </td>
                      <td>
                        <input aria-label={`Partner's payout, ${r.partnerId} ${r.date} (${r.currencyCode})`} inputMode="decimal" size={9} value={t.amount} onChange={(e) => set('amount', e.target.value.trim())} />
                      </td>
                      <td className={`num ${diffCount || diffAmount ? 'bad' : ''}`} data-testid="reconciliation-diff">
                        {diffCount === undefined && diffAmount === undefined ? (
                          <span className="muted">enter the partner's figures</span>
                        ) : (
                          <>
                            {diffCount !== undefined && <span>{diffCount === 0n ? 'same count' : `${diffCount > 0n ? '+' : ''}${formatCount(diffCount)} conversions`}</span>}
                            {diffAmount !== undefined && (
                              <span title={exactAmount(diffAmount)}>
                                {' '}
                                {diffAmount === 0n ? 'same payout' : <>{diffAmount > 0n ? '+' : ''}<Amount currency={r.currencyCode} value={diffAmount} /></>}
                              </span>
                            )}
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Status>
    </section>
  );
}

/** "1,234.56" or "1234.56" -> micros; undefined when not an amount. */
function parseAmount(text: string): bigint | undefined {
  const m = /^(\d{1,13})(?:\.(\d{1,6}))?$/.exec(text.replace(/,(?=\d{3}(\D|$))/g, ''));
  if (!m) return undefined;
  return BigInt(m[1]) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

interface MaturityRow {
  key?: string;
  name?: string;
  sends?: string;
  points?: { days: number; revenue?: Money[]; revenuePerSend?: Money[]; immature?: boolean; maturesAt?: string }[];
}

/**
 * What each send cohort had earned 1, 7, 30 and 90 days after its sends. A cell is mature only when the cohort's
 * last send day is at least that many days old; a younger one is marked, never shown as if final.
 */
function Maturity() {
  const { settings } = useSession();
  const q = useQuery({
    queryKey: ['maturity', settings],
    queryFn: () => api<{ rows?: MaturityRow[]; total?: MaturityRow }>(`/api/reports/maturity${qs({ from: settings.from, to: settings.to, tz: settings.timeZone, group_by: 'offer' })}`),
  });
  const rows = [...(q.data?.rows ?? []), ...(q.data?.total ? [{ ...q.data.total, key: '', name: 'All sends' }] : [])];
  return (
    <section className="card" id="maturity" aria-labelledby="maturity-title">
      <h2 id="maturity-title">Send-cohort maturity</h2>
      <p className="muted">
        Messages sent {settings.from} to {settings.to}: approved revenue per send within N days of each send.
      </p>
      <Status pending={q.isPending} error={q.error} empty={!!q.data && !rows.some((r) => BigInt(r.sends ?? 0) > 0n)} emptyText="No sends in this range.">
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Cohort maturity">
          <table data-testid="maturity">
            <thead>
              <tr>
                <th scope="col">Offer</th>
                <th scope="col" className="num">Sends</th>
                {[1, 7, 30, 90].map((d) => (
                  <th key={d} scope="col" className="num">
                    Day {d}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key || 'total'}>
                  <th scope="row">{r.key ? (r.name && r.name !== r.key ? `${r.name} (${r.key})` : r.key) : r.name}</th>
                  <td className="num">{formatCount(r.sends)}</td>
                  {[1, 7, 30, 90].map((d) => {
                    const p = r.points?.find((x) => x.days === d);
                    // Reporting marks the cells younger than the cohort (no value yet); the console only shows its verdict.
                    if (p?.immature) {
                      return (
                        <td
                          key={d}
                          className="num immature"
                          title={`Not mature: the last sends are younger than ${d} days${p.maturesAt ? ` (mature ${p.maturesAt.slice(0, 10)})` : ''}`}
                        >
                          not yet
                        </td>
                      );
                    }
                    return (
                      <td key={d} className="num">
                        {(p?.revenuePerSend ?? []).length ? (p!.revenuePerSend ?? []).map((m) => <Amount key={m.currencyCode} currency={m.currencyCode} value={micros(m)} />) : <span className="muted">–</span>}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Status>
    </section>
  );
}
