import { FormEvent, useId, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { Link, useLocation } from 'wouter';
import { Page } from '../App';
import { api } from '../api';
import { Amount } from '../components/Money';
import { Status } from '../components/Status';
import { formatCount, Money, micros } from '../format';

interface MessageSummary {
  messageId?: string;
  campaignId?: string;
  creativeId?: string;
  sentAt?: string;
  clicked?: boolean;
  taps?: string;
  converted?: boolean;
  revenue?: Money[];
}

/**
 * Messages and contacts: the paged lists (when reporting serves them) and look-ups by id that open a message's
 * detail or a contact's journey.
 */
export default function MessagesScreen() {
  const [, navigate] = useLocation();
  // Cursor pages: the tokens of the pages seen so far, so Previous goes back without a reverse cursor.
  const [tokens, setTokens] = useState<string[]>(['']);
  const token = tokens[tokens.length - 1];
  const messages = useQuery({
    queryKey: ['messages', token],
    queryFn: () => api<{ messages?: MessageSummary[]; nextPageToken?: string }>(`/api/messages?page_size=25${token ? `&page_token=${encodeURIComponent(token)}` : ''}`),
  });
  const list = messages.data?.messages ?? [];
  const contacts = useQuery({ queryKey: ['contacts'], queryFn: () => api<unknown>('/api/contacts') });
  return (
    <Page title="Messages & contacts">
      <div className="grid-2">
        <section className="card" aria-labelledby="msg-title">
          <h2 id="msg-title">Messages</h2>
          <Lookup label="Message id" button="Open message" onGo={(id) => navigate(`/messages/${encodeURIComponent(id)}`)} />
          <Status pending={messages.isPending} error={messages.error} empty={!!messages.data && !list.length} emptyText="No messages yet.">
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Messages">
              <table data-testid="messages">
                <thead>
                  <tr>
                    <th scope="col">Message</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Creative</th>
                    <th scope="col">Clicked</th>
                    <th scope="col" className="num">Taps</th>
                    <th scope="col">Converted</th>
                    <th scope="col" className="num">Revenue</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((m) => (
                    <tr key={m.messageId}>
                      <th scope="row">
                        <Link href={`/messages/${encodeURIComponent(m.messageId ?? '')}`}>{m.messageId}</Link>
                      </th>
                      <td>{m.sentAt?.slice(0, 16).replace('T', ' ')}</td>
                      <td>{m.creativeId}</td>
                      <td>{m.clicked ? 'Yes' : 'No'}</td>
                      <td className="num">{formatCount(m.taps ?? '0')}</td>
                      <td>{m.converted ? 'Yes' : 'No'}</td>
                      <td className="num">
                        {(m.revenue ?? []).map((r) => (
                          <Amount key={r.currencyCode} currency={r.currencyCode ?? ''} value={micros(r)} />
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="pager">
              <button type="button" disabled={tokens.length < 2} onClick={() => setTokens((t) => t.slice(0, -1))}>
                Previous
              </button>
              <button type="button" disabled={!messages.data?.nextPageToken} onClick={() => setTokens((t) => [...t, messages.data!.nextPageToken!])}>
                Next
              </button>
            </div>
          </Status>
        </section>
        <section className="card" aria-labelledby="contact-title">
          <h2 id="contact-title">Contacts</h2>
          <Lookup label="Contact id" button="Open journey" onGo={(id) => navigate(`/contacts/${encodeURIComponent(id)}`)} />
          <Status pending={contacts.isPending} error={contacts.error} />
        </section>
      </div>
    </Page>
  );
}

function Lookup({ label, button, onGo }: { label: string; button: string; onGo: (id: string) => void }) {
  const id = useId();
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (value.trim()) onGo(value.trim());
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => setValue(e.target.value)} required spellCheck={false} />
      <button type="submit">{button}</button>
    </form>
  );
}
