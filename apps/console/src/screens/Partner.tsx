import { FormEvent, useEffect, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'wouter';
import { NeedsScope, Page } from '../App';
import { api } from '../api';
import { CopyField } from '../components/CopyField';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { formatCount, formatInstant } from '../format';
import { useSession } from '../session';
import { Counters, KIND_LABEL, Partner, refused, Template } from './Partners';

const KIND_PARAM: Record<string, string> = { PARTNER_KIND_TUNE: 'tune', PARTNER_KIND_EVERFLOW: 'everflow', PARTNER_KIND_GENERIC: 'generic' };

/** One partner: counters, the postback URL to paste, settings and allow-list, token rotation, test postbacks. */
export default function PartnerScreen({ id }: { id: string }) {
  const { settings } = useSession();
  const q = useQuery({ queryKey: ['partner', id], queryFn: () => api<{ partner: Partner; counters: Counters; template: Template }>(`/api/partners/${encodeURIComponent(id)}`) });
  const p = q.data?.partner;
  const c = q.data?.counters;
  return (
    <Page title={`Partner ${id}`}>
      <NeedsScope scope="partners:read">
        <Status pending={q.isPending} error={q.error}>
          {p && (
            <>
              <dl className="facts card">
                <dt>Name · platform</dt>
                <dd>
                  {p.name} · {KIND_LABEL[p.kind ?? ''] ?? p.kind}
                </dd>
                <dt>Received · stored · duplicates · adjusted · reversed</dt>
                <dd>
                  {formatCount(c?.received)} · {formatCount(c?.stored)} · {formatCount(c?.duplicates)} · {formatCount(c?.adjusted)} · {formatCount(c?.reversed)}
                </dd>
                <dt>Refused</dt>
                <dd>
                  {formatCount(refused(c))}
                  {Object.entries(c?.rejectedByReason ?? {}).map(([r, n]) => (
                    <span key={r} className="badge">
                      {r}: {formatCount(n)}
                    </span>
                  ))}
                </dd>
                <dt>Token issued</dt>
                <dd>{formatInstant(p.tokenIssuedAt, settings.timeZone)}</dd>
                <dt>Last postback</dt>
                <dd className="muted">not reported yet (ingest's partner read model does not give it)</dd>
              </dl>
              <section className="card" aria-labelledby="template-title">
                <h2 id="template-title">Postback URL for {KIND_LABEL[p.kind ?? ''] ?? 'this partner'}</h2>
                <p className="muted">
                  Paste it into the partner's platform; replace the token placeholder with the partner's token (shown when it was registered or rotated).
                  The platform fills {q.data!.template.clickIdMacro ?? 'the click id macro'} with our click id.
                </p>
                <CopyField label="Postback URL template" value={q.data!.template.url} />
              </section>
              <NeedsScope scope="partners:test">
                <TestPostback partnerId={p.partnerId} currency={p.defaultCurrency ?? 'USD'} />
              </NeedsScope>
              <NeedsScope scope="partners:write">
                <Settings partner={p} />
                <Rotate partnerId={p.partnerId} />
              </NeedsScope>
            </>
          )}
        </Status>
      </NeedsScope>
    </Page>
  );
}

interface TestResult {
  url: string;
  httpStatus: number;
  responseBody: string;
  conversionId: string;
  conversion: { partnerId: string; conversionId: string; payout?: { currencyCode: string; amountMicros?: string } } | null;
  attribution: { outcome?: string; explanation?: string } | null;
}

function TestPostback({ partnerId, currency }: { partnerId: string; currency: string }) {
  const { tokens } = useSession();
  const ids = { click: useId(), payout: useId(), currency: useId() };
  const [form, setForm] = useState({ click_id: '', payout: '1.00', currency });
  const send = useMutation({
    mutationFn: () =>
      api<TestResult>(`/api/partners/${encodeURIComponent(partnerId)}/test-postback`, {
        method: 'POST',
        // A token shown in this tab (just registered or rotated here) goes along for ingest versions that still ask
        // for one; nobody is asked to type it.
        body: { ...form, ...(tokens.get(partnerId) ? { token: tokens.get(partnerId) } : {}) },
      }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    send.mutate();
  };
  const r = send.data;
  const ok = r && r.httpStatus >= 200 && r.httpStatus < 300;
  return (
    <section className="card" aria-labelledby="test-title">
      <h2 id="test-title">Send a test postback</h2>
      <p className="muted">A real postback through the edge, as the partner would send it, for a click id of ours.</p>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.click}>Click id</label>
          <input id={ids.click} value={form.click_id} onChange={(e) => setForm({ ...form, click_id: e.target.value.trim() })} required spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.payout}>Payout</label>
          <input id={ids.payout} value={form.payout} onChange={(e) => setForm({ ...form, payout: e.target.value })} inputMode="decimal" />
        </div>
        <div className="field">
          <label htmlFor={ids.currency}>Currency</label>
          <input id={ids.currency} value={form.currency} onChange={(e) => setForm({ ...form, currency: e.target.value.toUpperCase() })} maxLength={3} />
        </div>
        <div className="button-row">
          <button type="submit" disabled={send.isPending}>
            Send test postback
          </button>
          <Status pending={send.isPending} error={send.error} />
        </div>
      </form>
      {r && (
        <div className={`card inner ${ok ? 'ok' : 'bad'}`} data-testid="test-result" role="status">
          <p>
            The edge answered <strong>HTTP {r.httpStatus}</strong> to <code>{r.url}</code>
          </p>
          <pre className="response">{r.responseBody}</pre>
          {r.conversion ? (
            <p>
              Stored as conversion{' '}
              <Link href={`/conversions/${encodeURIComponent(r.conversion.partnerId)}/${encodeURIComponent(r.conversion.conversionId)}`}>{r.conversion.conversionId}</Link>{' '}
              (<MoneyList items={[r.conversion.payout]} />){r.attribution ? `: ${r.attribution.explanation ?? r.attribution.outcome}` : ': attribution decides within seconds — open it to see.'}
            </p>
          ) : (
            <p>Nothing was stored.</p>
          )}
        </div>
      )}
    </section>
  );
}

function Settings({ partner }: { partner: Partner }) {
  const client = useQueryClient();
  const ids = { name: useId(), param: useId(), currency: useId(), allow: useId() };
  const [form, setForm] = useState({ name: '', click_id_param: '', default_currency: '', allowed: '' });
  useEffect(() => {
    setForm({ name: partner.name ?? '', click_id_param: partner.clickIdParam ?? '', default_currency: partner.defaultCurrency ?? '', allowed: (partner.allowedSources ?? []).join('\n') });
  }, [partner]);
  const save = useMutation({
    mutationFn: () =>
      api<{ partner: Partner }>(`/api/partners/${encodeURIComponent(partner.partnerId)}`, {
        method: 'PUT',
        body: {
          name: form.name, kind: KIND_PARAM[partner.kind ?? ''] ?? 'generic', click_id_param: form.click_id_param, default_currency: form.default_currency,
          allowed_sources: form.allowed.split(/[\s,]+/).filter(Boolean),
        },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['partner', partner.partnerId] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings and allow-list</h2>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input id={ids.name} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={ids.param}>Click id parameter</label>
          <input id={ids.param} value={form.click_id_param} onChange={(e) => setForm({ ...form, click_id_param: e.target.value })} spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.currency}>Default currency</label>
          <input id={ids.currency} value={form.default_currency} onChange={(e) => setForm({ ...form, default_currency: e.target.value.toUpperCase() })} maxLength={3} />
        </div>
        <div className="field wide">
          <label htmlFor={ids.allow}>Allow-list, one per line (empty: any address)</label>
          <textarea id={ids.allow} value={form.allowed} onChange={(e) => setForm({ ...form, allowed: e.target.value })} rows={3} spellCheck={false} />
        </div>
        <div className="button-row">
          <button type="submit" disabled={save.isPending}>
            Save settings
          </button>
          <Status pending={save.isPending} error={save.error} />
          {save.isSuccess && (
            <span className="status status-ok" role="status">
              Saved.
            </span>
          )}
        </div>
      </form>
    </section>
  );
}

function Rotate({ partnerId }: { partnerId: string }) {
  const { tokens } = useSession();
  const [confirm, setConfirm] = useState(false);
  const rotate = useMutation({
    mutationFn: () => api<{ token: string; template: Template }>(`/api/partners/${encodeURIComponent(partnerId)}/rotate-token`, { method: 'POST' }),
    onSuccess: (r) => tokens.set(partnerId, r.token),
  });
  return (
    <section className="card" aria-labelledby="rotate-title">
      <h2 id="rotate-title">Token</h2>
      <p className="muted">A new token stops the old one at once: the partner's postbacks are refused until its platform has the new URL.</p>
      <div className="button-row">
        {!confirm ? (
          <button type="button" onClick={() => setConfirm(true)}>
            Rotate token…
          </button>
        ) : (
          <>
            <button type="button" className="danger" onClick={() => (setConfirm(false), rotate.mutate())}>
              Yes, rotate now
            </button>
            <button type="button" onClick={() => setConfirm(false)}>
              Cancel
            </button>
          </>
        )}
        <Status pending={rotate.isPending} error={rotate.error} />
      </div>
      {rotate.data && (
        <div className="card inner token-once">
          <p role="status">New token, shown this once:</p>
          <CopyField label="Postback token (shown once)" value={rotate.data.token} secret />
          <CopyField label="Postback URL (with the new token)" value={rotate.data.template.url} />
        </div>
      )}
    </section>
  );
}
