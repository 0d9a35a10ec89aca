import { useState } from 'react';
import { keepPreviousData } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { qs } from '../api';
import { InputField, SelectField, submitWith, useForm } from '../components/Form';
import { ConversionLink, MessageLink } from '../components/Links';
import { MoneyList } from '../components/Money';
import { Pager } from '../components/Pager';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { formatInstant, Money } from '../format';
import { loadState, useApi, useCursorPages } from '../load';
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
  const empty = { partner: '', outcome: '', status: '', reason: '' };
  const { form: draft, bind } = useForm(empty);
  const [filters, setFilters] = useState(empty);
  const pages = useCursorPages();
  const q = useApi<{ conversions?: Conversion[]; nextPageToken?: string }>(
    ['conversions', filters, pages.token],
    `/api/conversions${qs({ ...filters, page_size: '25', page_token: pages.token })}`,
    { placeholderData: keepPreviousData },
  );
  const submit = () => {
    setFilters(draft);
    pages.restart();
  };
  return (
    <>
      <form className="card controls" onSubmit={submitWith(submit)} aria-label="Conversion filters">
        <InputField label="Partner id" {...bind('partner', (v) => v.trim())} placeholder="any" />
        <SelectField label="Outcome" {...bind('outcome')} options={[['', 'any'], 'attributed', 'unattributed', 'pending']} />
        <SelectField label="Partner status" {...bind('status')} options={[['', 'any'], 'approved', 'pending', 'rejected', 'reversed']} />
        <SelectField label="Reason" {...bind('reason')} options={[['', 'any'], ...REASONS]} />
        <div className="field actions">
          <button type="submit">Apply filters</button>
        </div>
        <Status pending={q.isFetching} error={q.error} />
      </form>
      <Status {...loadState(q, (d) => !d.conversions?.length)} pending={q.isPending && !q.error} error={undefined} emptyText="No conversion matches these filters.">
        <Table
          label="Conversions"
          testId="conversions"
          headings={['Conversion', 'Occurred', 'Partner status', 'Outcome', 'Reason', num('Payout'), 'Credited message']}
        >
          {(q.data?.conversions ?? []).map((c) => (
            <tr key={`${c.partnerId}/${c.conversionId}`}>
              <td>
                <ConversionLink partnerId={c.partnerId} conversionId={c.conversionId} />
              </td>
              <td>{formatInstant(c.occurredAt, settings.timeZone)}</td>
              <td>{short(c.status, 'CONVERSION_STATUS_')}</td>
              <td>{short(c.attributionState, 'ATTRIBUTION_STATE_')}</td>
              <td>{c.attributionReason ?? ''}</td>
              <td className="num">
                <MoneyList items={[c.payout]} />
              </td>
              <td>{c.creditedMessageId ? <MessageLink id={c.creditedMessageId} /> : ''}</td>
            </tr>
          ))}
        </Table>
        <Pager label="Conversion pages" pages={pages} next={q.data?.nextPageToken} />
      </Status>
    </>
  );
}
