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

interface ContactSummary {
  contactId?: string;
  messages?: string;
  engagements?: string;
  conversions?: string;
  revenue?: Money[];
  lastActivityAt?: string;
}

/**
 * Messages and contacts: the paged lists (contacts searched by id prefix), each row opening a message's detail or a
 * contact's journey, and a look-up by message id.
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
  // Contacts: the search applied (a prefix of the id) and its own cursor pages, restarted when the search changes.
  const [search, setSearch] = useState('');
  const [contactTokens, setContactTokens] = useState<string[]>(['']);
  const contactToken = contactTokens[contactTokens.length - 1];
  const contacts = useQuery({
    queryKey: ['contacts', search, contactToken],
    queryFn: () =>
      api<{ contacts?: ContactSummary[]; nextPageToken?: string }>(
        `/api/contacts?page_size=25${search ? `&search=${encodeURIComponent(search)}` : ''}${contactToken ? `&page_token=${encodeURIComponent(contactToken)}` : ''}`,
      ),
  });
  const people = contacts.data?.contacts ?? [];
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
          <Lookup
            label="Search contacts"
            button="Search"
            optional
            onGo={(prefix) => {
              setSearch(prefix);
              setContactTokens(['']);
            }}
          />
          <Status pending={contacts.isPending} error={contacts.error} empty={!!contacts.data && !people.length} emptyText={search ? `No contact id starts with “${search}”.` : 'No contacts yet.'}>
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Contacts">
              <table data-testid="contacts">
                <thead>
                  <tr>
                    <th scope="col">Contact</th>
                    <th scope="col" className="num">Messages</th>
                    <th scope="col" className="num">Engagements</th>
                    <th scope="col" className="num">Conversions</th>
                    <th scope="col" className="num">Revenue</th>
                    <th scope="col">Last activity</th>
                  </tr>
                </thead>
                <tbody>
                  {people.map((c) => (
                    <tr key={c.contactId}>
                      <th scope="row">
                        <Link href={`/contacts/${encodeURIComponent(c.contactId ?? '')}`}>{c.contactId}</Link>
                      </th>
                      <td className="num">{formatCount(c.messages ?? '0')}</td>
                      <td className="num">{formatCount(c.engagements ?? '0')}</td>
                      <td className="num">{formatCount(c.conversions ?? '0')}</td>
                      <td className="num">
                        {(c.revenue ?? []).map((r) => (
                          <Amount key={r.currencyCode} currency={r.currencyCode ?? ''} value={micros(r)} />
                        ))}
                      </td>
                      <td>{c.lastActivityAt?.slice(0, 16).replace('T', ' ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div className="pager">
              <button type="button" disabled={contactTokens.length < 2} onClick={() => setContactTokens((t) => t.slice(0, -1))}>
                Previous
              </button>
              <button type="button" disabled={!contacts.data?.nextPageToken} onClick={() => setContactTokens((t) => [...t, contacts.data!.nextPageToken!])}>
                Next
              </button>
            </div>
          </Status>
        </section>
      </div>
    </Page>
  );
}

/** A one-field form; `optional` lets it submit empty (a search cleared shows everything again). */
function Lookup({ label, button, onGo, optional }: { label: string; button: string; onGo: (id: string) => void; optional?: boolean }) {
  const id = useId();
  const [value, setValue] = useState('');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (optional || value.trim()) onGo(value.trim());
  };
  return (
    <form className="inline-form" onSubmit={submit} role={optional ? 'search' : undefined}>
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => setValue(e.target.value)} required={!optional} spellCheck={false} />
      <button type="submit">{button}</button>
    </form>
  );
}
