import { useId, useMemo, useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api, qs, upload } from '../api';
import { InputField, SubmitRow, submitWith, useForm } from '../components/Form';
import { Amount } from '../components/Money';
import { Reattribution } from '../components/Reattribution';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { addDays, exactAmount, formatCount, Money, micros, named, splitList, zonedMidnight } from '../format';
import { loadState, useApi } from '../load';
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
  const [partner, setPartner] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<[number, number] | null>(null);
  const run = useMutation({
    mutationFn: () => upload<ImportResult>(`/api/operations/import${qs({ partner: partner.trim() })}`, file!, (sent, total) => setProgress([sent, total])),
  });
  const r = run.data;
  return (
    <section className="card" id="import" aria-labelledby="import-title">
      <h2 id="import-title">CSV import</h2>
      <p className="muted">
        Columns <code>click_id, conversion_id, payout, currency, status, occurred_at</code>, header row first. Rows already stored are duplicates, never
        counted twice.
      </p>
      <form
        className="form grid-form"
        onSubmit={submitWith(() => {
          setProgress([0, file?.size ?? 0]);
          run.mutate();
        })}
      >
        <InputField label="Partner id" value={partner} onChange={(e) => setPartner(e.target.value)} required spellCheck={false} />
        <InputField label="CSV file" type="file" accept=".csv,text/csv" onChange={(e) => setFile(e.target.files?.[0] ?? null)} required />
        <SubmitRow label="Upload and import" action={run} disabled={!file}>
          {progress && run.isPending && (
            <label className="progress">
              Uploading <progress max={progress[1] || 1} value={progress[0]} /> {formatCount(progress[0])} of {formatCount(progress[1])} bytes
            </label>
          )}
        </SubmitRow>
      </form>
      {r && (
        <div className="card inner" data-testid="import-result" role="status">
          <p>
            {formatCount(r.rows)} rows: {formatCount(r.stored)} stored, {formatCount(r.duplicates)} duplicates, {formatCount(r.adjusted)} adjusted,{' '}
            <strong>{formatCount(r.rejected)} refused</strong>.
          </p>
          {!!r.errors?.length && (
            <Table
              label="Refused rows"
              caption="Refused rows (fix them and import the file again: the stored rows are not imported twice)"
              headings={[num('Line'), 'Problem']}
            >
              {r.errors.map((e, i) => (
                <tr key={i}>
                  <td className="num">{e.line}</td>
                  <td>{e.message}</td>
                </tr>
              ))}
            </Table>
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
  const { form, bind } = useForm({ partner: '', from: settings.from, to: settings.to, outcomes: '' });
  const run = useMutation({
    mutationFn: (dryRun: boolean) =>
      api<ReplayResult>('/api/operations/replay', {
        method: 'POST',
        body: {
          partner: form.partner.trim(), ...instants(form.from, form.to, settings.timeZone), dry_run: dryRun,
          outcomes: splitList(form.outcomes),
        },
      }),
  });
  const r = run.data;
  return (
    <section className="card" id="replay" aria-labelledby="replay-title">
      <h2 id="replay-title">Replay archived postbacks</h2>
      <p className="muted">After a mapping or token fix: what the partner's archived requests become with its current settings. Dry run first.</p>
      <form className="form grid-form" onSubmit={submitWith(() => run.mutate(true))}>
        <InputField label="Partner id" {...bind('partner')} required />
        <InputField label={`Received from (${settings.timeZone})`} type="date" {...bind('from')} required />
        <InputField label="Received to (inclusive)" type="date" {...bind('to')} required />
        <InputField label="Original outcomes (empty: the refused and failed)" {...bind('outcomes')} placeholder="unauthorized, invalid" />
        <SubmitRow label="Dry run" action={run}>
          {r?.dryRun && (
            <button type="button" className="danger" onClick={() => run.mutate(false)} disabled={run.isPending || !r.results?.length}>
              Apply the replay
            </button>
          )}
        </SubmitRow>
      </form>
      {r && (
        <div className="card inner" data-testid="replay-result" role="status">
          <p>
            {r.dryRun ? 'Dry run, nothing stored: ' : 'Replayed: '}
            {Object.entries(r.outcomeCounts ?? {}).map(([k, v]) => `${formatCount(v)} ${k}`).join(', ') || 'no request matched'}
            {r.truncated ? ' (more matched than the limit: replay again from the last one)' : ''}.
          </p>
          {!!r.results?.length && (
            <Table label="Replayed requests" headings={['Request', 'Was', 'Becomes', 'Why', 'Conversion']}>
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
            </Table>
          )}
        </div>
      )}
    </section>
  );
}

function ReattributionSection() {
  const { settings } = useSession();
  const { form, bind } = useForm({ offer: '', from: settings.from, to: settings.to });
  const request = useMemo(() => ({ offer: form.offer.trim() || undefined, ...instants(form.from, form.to, settings.timeZone) }), [form, settings.timeZone]);
  return (
    <section className="card" id="reattribution" aria-labelledby="reattribution-title">
      <h2 id="reattribution-title">Re-attribution</h2>
      <p className="muted">Re-runs the current rules over conversions decided in the range (and offer): the revenue diff first, then apply.</p>
      <div className="form grid-form">
        <InputField label="Offer id (optional)" {...bind('offer')} />
        <InputField label={`Conversions from (${settings.timeZone})`} type="date" {...bind('from')} />
        <InputField label="to (inclusive)" type="date" {...bind('to')} />
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
  const q = useApi<{ rows?: ReconciliationRow[] }>(
    ['reconciliation', settings, applied],
    `/api/reports/reconciliation${qs({ from: settings.from, to: settings.to, tz: settings.timeZone, partner: applied })}`,
  );
  const rows = q.data?.rows ?? [];
  return (
    <section className="card" id="reconciliation" aria-labelledby="rec-title">
      <h2 id="rec-title">Reconciliation with the partner's totals</h2>
      <form className="inline-form" onSubmit={submitWith(() => setApplied(partner.trim()))}>
        <label htmlFor={pid}>Partner id (empty: all)</label>
        <input id={pid} value={partner} onChange={(e) => setPartner(e.target.value)} />
        <button type="submit">Show</button>
        <Status pending={q.isFetching} error={q.error} />
      </form>
      <Status empty={!!q.data && !rows.length} emptyText="No postback received in this range.">
        {rows.length > 0 && (
          <Table
            label="Reconciliation"
            testId="reconciliation"
            headings={['Partner · day', num('Received'), num('Credited'), num('Unattributed'), num('Pending'), "Partner's conversions", "Partner's payout", num('Difference')]}
          >
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
          </Table>
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

const MATURITY_DAYS = [1, 7, 30, 90];

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
  const q = useApi<{ rows?: MaturityRow[]; total?: MaturityRow }>(
    ['maturity', settings],
    `/api/reports/maturity${qs({ from: settings.from, to: settings.to, tz: settings.timeZone, group_by: 'offer' })}`,
  );
  const rows = [...(q.data?.rows ?? []), ...(q.data?.total ? [{ ...q.data.total, key: '', name: 'All sends' }] : [])];
  return (
    <section className="card" id="maturity" aria-labelledby="maturity-title">
      <h2 id="maturity-title">Send-cohort maturity</h2>
      <p className="muted">
        Messages sent {settings.from} to {settings.to}: approved revenue per send within N days of each send.
      </p>
      <Status {...loadState(q, () => !rows.some((r) => BigInt(r.sends ?? 0) > 0n))} emptyText="No sends in this range.">
        <Table label="Cohort maturity" testId="maturity" headings={['Offer', num('Sends'), ...MATURITY_DAYS.map((d) => num(`Day ${d}`))]}>
              {rows.map((r) => (
                <tr key={r.key || 'total'}>
                  <th scope="row">{r.key ? named(r.key, r.name) : r.name}</th>
                  <td className="num">{formatCount(r.sends)}</td>
                  {MATURITY_DAYS.map((d) => {
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
        </Table>
      </Status>
    </section>
  );
}
