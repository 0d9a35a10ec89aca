import { FormEvent, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { NeedsScope, Page } from '../App';
import { api } from '../api';
import { CopyField } from '../components/CopyField';
import { Status } from '../components/Status';
import { formatCount, formatInstant } from '../format';
import { useSession } from '../session';

export interface Counters {
  received?: string;
  stored?: string;
  duplicates?: string;
  adjusted?: string;
  reversed?: string;
  rejectedByReason?: Record<string, string>;
  errors?: string;
}
export interface Partner {
  partnerId: string;
  name?: string;
  kind?: string;
  clickIdParam?: string;
  defaultCurrency?: string;
  allowedSources?: string[];
  tokenIssuedAt?: string;
  createdAt?: string;
  updatedAt?: string;
  counters?: Counters;
}
export interface Template {
  url: string;
  clickIdMacro?: string;
  tokenIncluded?: boolean;
}

export const KIND_LABEL: Record<string, string> = { PARTNER_KIND_TUNE: 'TUNE (HasOffers)', PARTNER_KIND_EVERFLOW: 'Everflow', PARTNER_KIND_GENERIC: 'Generic' };
export const refused = (c: Counters | undefined) => Object.values(c?.rejectedByReason ?? {}).reduce((s, v) => s + BigInt(v), 0n);

/** Partners: the list with what their postbacks became, and registration (token shown once, template to copy). */
export default function PartnersScreen() {
  const { settings } = useSession();
  const list = useQuery({ queryKey: ['partners'], queryFn: () => api<{ partners?: Partner[] }>('/api/partners') });
  const partners = list.data?.partners ?? [];
  return (
    <Page title="Partners">
      <NeedsScope scope="partners:read">
        <section className="card" aria-labelledby="partners-title">
          <h2 id="partners-title">Partners</h2>
          <Status pending={list.isPending} error={list.error} empty={!!list.data && !partners.length} emptyText="No partner is registered yet: register the first one below.">
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Partners">
              <table data-testid="partners">
                <thead>
                  <tr>
                    <th scope="col">Partner</th>
                    <th scope="col">Platform</th>
                    <th scope="col" className="num">Received</th>
                    <th scope="col" className="num">Stored</th>
                    <th scope="col" className="num">Duplicates</th>
                    <th scope="col" className="num">Refused</th>
                    <th scope="col">Allow-list</th>
                    <th scope="col">Token issued</th>
                    <th scope="col">Last postback</th>
                  </tr>
                </thead>
                <tbody>
                  {partners.map((p) => (
                    <tr key={p.partnerId}>
                      <td>
                        <Link href={`/partners/${encodeURIComponent(p.partnerId)}`}>{p.name && p.name !== p.partnerId ? `${p.name} (${p.partnerId})` : p.partnerId}</Link>
                      </td>
                      <td>{KIND_LABEL[p.kind ?? ''] ?? p.kind}</td>
                      <td className="num">{formatCount(p.counters?.received)}</td>
                      <td className="num">{formatCount(p.counters?.stored)}</td>
                      <td className="num">{formatCount(p.counters?.duplicates)}</td>
                      <td className="num">{formatCount(refused(p.counters))}</td>
                      <td>{p.allowedSources?.length ? p.allowedSources.join(', ') : 'any address'}</td>
                      <td>{formatInstant(p.tokenIssuedAt, settings.timeZone)}</td>
                      <td className="muted" title="ingest's partner read model does not report it yet">not reported yet</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </Status>
        </section>
      </NeedsScope>
      <NeedsScope scope="partners:write">
        <CreatePartner />
      </NeedsScope>
    </Page>
  );
}

function CreatePartner() {
  const client = useQueryClient();
  const { tokens } = useSession();
  const ids = { id: useId(), name: useId(), kind: useId(), param: useId(), currency: useId(), allow: useId() };
  const [form, setForm] = useState({ partner_id: '', name: '', kind: 'tune', click_id_param: '', default_currency: 'USD', allowed: '' });
  const create = useMutation({
    mutationFn: () =>
      api<{ partner: Partner; token: string; template: Template }>('/api/partners', {
        method: 'POST',
        body: {
          partner_id: form.partner_id.trim(), name: form.name, kind: form.kind, click_id_param: form.click_id_param, default_currency: form.default_currency,
          allowed_sources: form.allowed.split(/[\s,]+/).filter(Boolean),
        },
      }),
    onSuccess: (r) => {
      tokens.set(r.partner.partnerId, r.token);
      client.invalidateQueries({ queryKey: ['partners'] });
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const done = create.data;
  return (
    <section className="card" aria-labelledby="create-title">
      <h2 id="create-title">Register a partner</h2>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.id}>Partner id (in the postback path)</label>
          <input id={ids.id} value={form.partner_id} onChange={set('partner_id')} required pattern="[A-Za-z0-9_\-]{1,64}" spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input id={ids.name} value={form.name} onChange={set('name')} />
        </div>
        <div className="field">
          <label htmlFor={ids.kind}>Platform</label>
          <select id={ids.kind} value={form.kind} onChange={set('kind')}>
            <option value="tune">TUNE (HasOffers)</option>
            <option value="everflow">Everflow</option>
            <option value="generic">Generic</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.param}>Click id parameter (empty: the platform's default)</label>
          <input id={ids.param} value={form.click_id_param} onChange={set('click_id_param')} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.currency}>Default currency</label>
          <input id={ids.currency} value={form.default_currency} onChange={set('default_currency')} pattern="[A-Z]{3}" maxLength={3} />
        </div>
        <div className="field wide">
          <label htmlFor={ids.allow}>Allow-list (IPs, CIDR or TUNE ranges; empty: any address)</label>
          <textarea id={ids.allow} value={form.allowed} onChange={set('allowed')} rows={2} spellCheck={false} />
        </div>
        <div className="button-row">
          <button type="submit" disabled={create.isPending}>
            Register partner
          </button>
          <Status pending={create.isPending} error={create.error} />
        </div>
      </form>
      {done && (
        <div className="card inner token-once" data-testid="created-partner">
          <p role="status">
            Registered <Link href={`/partners/${encodeURIComponent(done.partner.partnerId)}`}>{done.partner.partnerId}</Link>. Its token is shown this
            once: keep it now, it cannot be read back (rotate it to get a new one).
          </p>
          <CopyField label="Postback token (shown once)" value={done.token} secret />
          <CopyField label={`Postback URL for ${KIND_LABEL[done.partner.kind ?? ''] ?? 'the partner'} (with the token)`} value={done.template.url} />
        </div>
      )}
    </section>
  );
}
