import { useMutation } from '@tanstack/react-query';
import { api } from '../api';
import { exactAmount, formatCount, Money, micros } from '../format';
import { Amount } from './Money';
import { Status } from './Status';
import { num, Table } from './Table';

interface RevenueDiff {
  key: string;
  approvedBefore?: Money;
  approvedAfter?: Money;
  pendingBefore?: Money;
  pendingAfter?: Money;
}
export interface ReattributeResult {
  runId?: string;
  dryRun?: boolean;
  examined?: number;
  changed?: number;
  byOffer?: RevenueDiff[];
  byMessage?: RevenueDiff[];
  ruleVersion?: string;
}
export interface ReattributeRequest {
  offer?: string;
  from?: string;
  to?: string;
}

/**
 * Re-attribution under the current rules: a dry run shows the revenue diff per offer and message; the same request
 * with dry_run false applies it (only after the dry run was seen).
 */
export function Reattribution({ request, disabled }: { request: ReattributeRequest; disabled?: boolean }) {
  const run = useMutation({ mutationFn: (dryRun: boolean) => api<ReattributeResult>('/api/operations/reattribute', { method: 'POST', body: { ...request, dry_run: dryRun } }) });
  const result = run.data;
  return (
    <div className="reattribution">
      <div className="button-row">
        <button type="button" onClick={() => run.mutate(true)} disabled={disabled || run.isPending}>
          Dry run: show the revenue diff
        </button>
        {result?.dryRun && (
          <button type="button" className="danger" onClick={() => run.mutate(false)} disabled={run.isPending || !result.changed}>
            Apply {formatCount(result.changed ?? 0)} change(s)
          </button>
        )}
        <Status pending={run.isPending} error={run.error} />
      </div>
      {result && (
        <div className="card inner" data-testid="reattribution-result">
          <p role="status">
            {result.dryRun ? 'Dry run, nothing changed: ' : 'Applied: '}
            {formatCount(result.examined ?? 0)} decisions examined, {formatCount(result.changed ?? 0)} {result.dryRun ? 'would change' : 'changed'} (rules {result.ruleVersion}).
          </p>
          <DiffTable title="Revenue by offer" rows={result.byOffer ?? []} />
          <DiffTable title="Revenue by message" rows={result.byMessage ?? []} />
        </div>
      )}
    </div>
  );
}

function DiffTable({ title, rows }: { title: string; rows: RevenueDiff[] }) {
  if (!rows.length) return <p className="muted">{title}: no change.</p>;
  return (
    <Table label={title} caption={title} headings={['Key', num('Approved before'), num('Approved after'), num('Difference'), num('Pending before → after')]}>
          {rows.map((r) => {
            const c = r.approvedBefore?.currencyCode || r.approvedAfter?.currencyCode || r.pendingBefore?.currencyCode || 'USD';
            const diff = micros(r.approvedAfter) - micros(r.approvedBefore);
            return (
              <tr key={`${r.key}-${c}`}>
                <td>{r.key}</td>
                <td className="num">
                  <Amount currency={c} value={micros(r.approvedBefore)} />
                </td>
                <td className="num">
                  <Amount currency={c} value={micros(r.approvedAfter)} />
                </td>
                <td className={`num ${diff < 0n ? 'bad' : diff > 0n ? 'good' : ''}`} title={exactAmount(diff)}>
                  {diff > 0n ? '+' : ''}
                  <Amount currency={c} value={diff} />
                </td>
                <td className="num">
                  <Amount currency={c} value={micros(r.pendingBefore)} /> → <Amount currency={c} value={micros(r.pendingAfter)} />
                </td>
              </tr>
            );
          })}
    </Table>
  );
}
