import { FormEvent, useId, useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { NeedsScope, Page } from '../App';
import { api, qs } from '../api';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { formatInstant, Money } from '../format';
import { useSession } from '../session';

export interface Conversion {
  partnerId: string;
  conversionId: string;
  clickId?: string;
  payout?: Money;
  status?: string;
  occurredAt?: string;
  receivedAt?: string;
  attributionState?: string;
  attributionReason?: string;
  creditedMessageId?: string;
}

const REASONS = ['UNKNOWN_CLICK_ID', 'OUTSIDE_WINDOW', 'TOO_FAST', 'DUPLICATE', 'CLICK_AFTER_CONVERSION', 'OFFER_MISMATCH', 'REJECTED', 'NO_CLICK_NO_VIEW'];
export const short = (v: string | undefined, prefix: string) => (v ? v.replace(prefix, '').toLowerCase() : '–');

/** Conversions newest first, with filters; each opens its explanation. */
export default function ConversionsScreen() {
  return (
    <Page title="Conversions">
      <NeedsScope scope="conversions:read">
        <ConversionList />
      </NeedsScope>
    </Page>
  );
}

function ConversionList() {
  const { settings } = useSession();
  const ids = { partner: useId(), outcome: useId(), status: useId(), reason: useId() };
  const empty = { partner: '', outcome: '', status: '', reason: '' };
  const [draft, setDraft] = useState(empty);
  const [filters, setFilters] = useState(empty);
  // Page tokens of the pages seen so far: [''] is the first page.
  const [tokens, setTokens] = useState<string[]>(['']);
  const token = tokens[tokens.length - 1];
  const q = useQuery({
    queryKey: ['conversions', filters, token],
    queryFn: () => api<{ conversions?: Conversion[]; nextPageToken?: string }>(`/api/conversions${qs({ ...filters, page_size: '25', page_token: token })}`),
    placeholderData: keepPreviousData,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
    setTokens(['']);
  };
  const list = q.data?.conversions ?? [];
  return (
    <>
      <form className="card controls" onSubmit={submit} aria-label="Conversion filters">
        <div className="field">
          <label htmlFor={ids.partner}>Partner id</label>
          <input id={ids.partner} value={draft.partner} onChange={(e) => setDraft({ ...draft, partner: e.target.value.trim() })} placeholder="any" />
        </div>
        <div className="field">
          <label htmlFor={ids.outcome}>Outcome</label>
          <select id={ids.outcome} value={draft.outcome} onChange={(e) => setDraft({ ...draft, outcome: e.target.value })}>
            <option value="">any</option>
            <option>attributed</option>
            <option>unattributed</option>
            <option>pending</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.status}>Partner status</label>
          <select id={ids.status} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">any</option>
            <option>approved</option>
            <option>pending</option>
            <option>rejected</option>
            <option>reversed</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.reason}>Reason</label>
          <select id={ids.reason} value={draft.reason} onChange={(e) => setDraft({ ...draft, reason: e.target.value })}>
            <option value="">any</option>
            {REASONS.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </div>
        <div className="field actions">
          <button type="submit">Apply filters</button>
        </div>
        <Status pending={q.isFetching} error={q.error} />
      </form>
      <Status pending={q.isPending && !q.error} empty={!!q.data && !list.length} emptyText="No conversion matches these filters.">
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Conversions">
          <table data-testid="conversions">
            <thead>
              <tr>
                <th scope="col">Conversion</th>
                <th scope="col">Occurred</th>
                <th scope="col">Partner status</th>
                <th scope="col">Outcome</th>
                <th scope="col">Reason</th>
                <th scope="col" className="num">
                  Payout
                </th>
                <th scope="col">Credited message</th>
              </tr>
            </thead>
            <tbody>
              {list.map((c) => (
                <tr key={`${c.partnerId}/${c.conversionId}`}>
                  <td>
                    <Link href={`/conversions/${encodeURIComponent(c.partnerId)}/${encodeURIComponent(c.conversionId)}`}>
                      {c.partnerId} / {c.conversionId}
                    </Link>
                  </td>
                  <td>{formatInstant(c.occurredAt, settings.timeZone)}</td>
                  <td>{short(c.status, 'CONVERSION_STATUS_')}</td>
                  <td>{short(c.attributionState, 'ATTRIBUTION_STATE_')}</td>
                  <td>{c.attributionReason ?? ''}</td>
                  <td className="num">
                    <MoneyList items={[c.payout]} />
                  </td>
                  <td>{c.creditedMessageId ? <Link href={`/messages/${encodeURIComponent(c.creditedMessageId)}`}>{c.creditedMessageId}</Link> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <nav className="pager" aria-label="Conversion pages">
          <button type="button" disabled={tokens.length < 2} onClick={() => setTokens(tokens.slice(0, -1))}>
            Previous
          </button>
          <span>Page {tokens.length}</span>
          <button type="button" disabled={!q.data?.nextPageToken} onClick={() => setTokens([...tokens, q.data!.nextPageToken!])}>
            Next
          </button>
        </nav>
      </Status>
    </>
  );
}
