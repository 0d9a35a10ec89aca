import { FormEvent, useId, useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { useLocation } from 'wouter';
import { Page } from '../App';
import { api } from '../api';
import { Status } from '../components/Status';

/**
 * Messages and contacts: the paged lists (when reporting serves them) and look-ups by id that open a message's
 * detail or a contact's journey.
 */
export default function MessagesScreen() {
  const [, navigate] = useLocation();
  const messages = useQuery({ queryKey: ['messages'], queryFn: () => api<unknown>('/api/messages') });
  const contacts = useQuery({ queryKey: ['contacts'], queryFn: () => api<unknown>('/api/contacts') });
  return (
    <Page title="Messages & contacts">
      <div className="grid-2">
        <section className="card" aria-labelledby="msg-title">
          <h2 id="msg-title">Messages</h2>
          <Lookup label="Message id" button="Open message" onGo={(id) => navigate(`/messages/${encodeURIComponent(id)}`)} />
          <Status pending={messages.isPending} error={messages.error} />
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
