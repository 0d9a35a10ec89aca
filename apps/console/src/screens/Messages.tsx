import { useId, useState } from 'react';
import { useLocation } from 'wouter';
import { Page } from '../App';
import { qs } from '../api';
import { submitWith } from '../components/Form';
import { ContactLink, MessageLink } from '../components/Links';
import { Amount } from '../components/Money';
import { Pager } from '../components/Pager';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { formatCount, Money, micros } from '../format';
import { loadState, useApi, useCursorPages } from '../load';

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
  const pages = useCursorPages();
  const messages = useApi<{ messages?: MessageSummary[]; nextPageToken?: string }>(['messages', pages.token], `/api/messages${qs({ page_size: '25', page_token: pages.token })}`);
  // Contacts: the search applied (a prefix of the id) and its own cursor pages, restarted when the search changes.
  const [search, setSearch] = useState('');
  const contactPages = useCursorPages();
  const contacts = useApi<{ contacts?: ContactSummary[]; nextPageToken?: string }>(
    ['contacts', search, contactPages.token],
    `/api/contacts${qs({ page_size: '25', search, page_token: contactPages.token })}`,
  );
  return (
    <Page title="Messages & contacts">
      <div className="grid-2">
        <section className="card" aria-labelledby="msg-title">
          <h2 id="msg-title">Messages</h2>
          <Lookup label="Message id" button="Open message" onGo={(id) => navigate(`/messages/${encodeURIComponent(id)}`)} />
          <Status {...loadState(messages, (d) => !d.messages?.length)} emptyText="No messages yet.">
            <Table label="Messages" testId="messages" headings={['Message', 'Sent', 'Creative', 'Clicked', num('Taps'), 'Converted', num('Revenue')]}>
              {(messages.data?.messages ?? []).map((m) => (
                <tr key={m.messageId}>
                  <th scope="row">
                    <MessageLink id={m.messageId ?? ''} />
                  </th>
                  <td>{m.sentAt?.slice(0, 16).replace('T', ' ')}</td>
                  <td>{m.creativeId}</td>
                  <td>{m.clicked ? 'Yes' : 'No'}</td>
                  <td className="num">{formatCount(m.taps ?? '0')}</td>
                  <td>{m.converted ? 'Yes' : 'No'}</td>
                  <td className="num">
                    <Amounts items={m.revenue} />
                  </td>
                </tr>
              ))}
            </Table>
            <Pager label="Message pages" pages={pages} next={messages.data?.nextPageToken} />
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
              contactPages.restart();
            }}
          />
          <Status {...loadState(contacts, (d) => !d.contacts?.length)} emptyText={search ? `No contact id starts with “${search}”.` : 'No contacts yet.'}>
            <Table
              label="Contacts"
              testId="contacts"
              headings={['Contact', num('Messages'), num('Engagements'), num('Conversions'), num('Revenue'), 'Last activity']}
            >
              {(contacts.data?.contacts ?? []).map((c) => (
                <tr key={c.contactId}>
                  <th scope="row">
                    <ContactLink id={c.contactId ?? ''} />
                  </th>
                  <td className="num">{formatCount(c.messages ?? '0')}</td>
                  <td className="num">{formatCount(c.engagements ?? '0')}</td>
                  <td className="num">{formatCount(c.conversions ?? '0')}</td>
                  <td className="num">
                    <Amounts items={c.revenue} />
                  </td>
                  <td>{c.lastActivityAt?.slice(0, 16).replace('T', ' ')}</td>
                </tr>
              ))}
            </Table>
            <Pager label="Contact pages" pages={contactPages} next={contacts.data?.nextPageToken} />
          </Status>
        </section>
      </div>
    </Page>
  );
}

/** One amount per currency, side by side. */
function Amounts({ items }: { items: Money[] | undefined }) {
  return (
    <>
      {(items ?? []).map((r) => (
        <Amount key={r.currencyCode} currency={r.currencyCode ?? ''} value={micros(r)} />
      ))}
    </>
  );
}

/** A one-field form; `optional` lets it submit empty (a search cleared shows everything again). */
function Lookup({ label, button, onGo, optional }: { label: string; button: string; onGo: (id: string) => void; optional?: boolean }) {
  const id = useId();
  const [value, setValue] = useState('');
  return (
    <form className="inline-form" onSubmit={submitWith(() => (optional || value.trim()) && onGo(value.trim()))} role={optional ? 'search' : undefined}>
      <label htmlFor={id}>{label}</label>
      <input id={id} value={value} onChange={(e) => setValue(e.target.value)} required={!optional} spellCheck={false} />
      <button type="submit">{button}</button>
    </form>
  );
}
