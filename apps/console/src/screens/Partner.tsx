import { useEffect, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api } from '../api';
import { CopyField } from '../components/CopyField';
import { InputField, ShownOnce, SubmitRow, submitWith, TextAreaField, useForm } from '../components/Form';
import { ConversionLink } from '../components/Links';
import { MoneyList } from '../components/Money';
import { Status } from '../components/Status';
import { formatCount, formatInstant, splitList } from '../format';
import { useApi } from '../load';
import { useSession } from '../session';
import { Counters, KIND_LABEL, Partner, refused, Template } from './Partners';

const KIND_PARAM: Record<string, string> = { PARTNER_KIND_TUNE: 'tune', PARTNER_KIND_EVERFLOW: 'everflow', PARTNER_KIND_GENERIC: 'generic' };

/** One partner: counters, the postback URL to paste, settings and allow-list, token rotation, test postbacks. */
export default function PartnerScreen({ id }: { id: string }) {
  const { settings } = useSession();
  const q = useApi<{ partner: Partner; counters: Counters; template: Template }>(['partner', id], `/api/partners/${encodeURIComponent(id)}`);
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
  const { form, bind } = useForm({ click_id: '', payout: '1.00', currency });
  const send = useMutation({
    mutationFn: () =>
      api<TestResult>(`/api/partners/${encodeURIComponent(partnerId)}/test-postback`, {
        method: 'POST',
        // A token shown in this tab (just registered or rotated here) goes along for ingest versions that still ask
        // for one; nobody is asked to type it.
        body: { ...form, ...(tokens.get(partnerId) ? { token: tokens.get(partnerId) } : {}) },
      }),
  });
  const r = send.data;
  const ok = r && r.httpStatus >= 200 && r.httpStatus < 300;
  return (
    <section className="card" aria-labelledby="test-title">
      <h2 id="test-title">Send a test postback</h2>
      <p className="muted">A real postback through the edge, as the partner would send it, for a click id of ours.</p>
      <form className="form grid-form" onSubmit={submitWith(() => send.mutate())}>
        <InputField label="Click id" {...bind('click_id', (v) => v.trim())} required spellCheck={false} />
        <InputField label="Payout" {...bind('payout')} inputMode="decimal" />
        <InputField label="Currency" {...bind('currency', (v) => v.toUpperCase())} maxLength={3} />
        <SubmitRow label="Send test postback" action={send} />
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
              <ConversionLink partnerId={r.conversion.partnerId} conversionId={r.conversion.conversionId}>
                {r.conversion.conversionId}
              </ConversionLink>{' '}
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
  const { form, setForm, bind } = useForm({ name: '', click_id_param: '', default_currency: '', allowed: '' });
  useEffect(() => {
    setForm({ name: partner.name ?? '', click_id_param: partner.clickIdParam ?? '', default_currency: partner.defaultCurrency ?? '', allowed: (partner.allowedSources ?? []).join('\n') });
  }, [partner, setForm]);
  const save = useMutation({
    mutationFn: () =>
      api<{ partner: Partner }>(`/api/partners/${encodeURIComponent(partner.partnerId)}`, {
        method: 'PUT',
        body: {
          name: form.name, kind: KIND_PARAM[partner.kind ?? ''] ?? 'generic', click_id_param: form.click_id_param, default_currency: form.default_currency,
          allowed_sources: splitList(form.allowed),
        },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['partner', partner.partnerId] }),
  });
  return (
    <section className="card" aria-labelledby="settings-title">
      <h2 id="settings-title">Settings and allow-list</h2>
      <form className="form grid-form" onSubmit={submitWith(() => save.mutate())}>
        <InputField label="Name" {...bind('name')} />
        <InputField label="Click id parameter" {...bind('click_id_param')} spellCheck={false} />
        <InputField label="Default currency" {...bind('default_currency', (v) => v.toUpperCase())} maxLength={3} />
        <TextAreaField wide label="Allow-list, one per line (empty: any address)" {...bind('allowed')} rows={3} spellCheck={false} />
        <SubmitRow label="Save settings" action={save}>
          {save.isSuccess && (
            <span className="status status-ok" role="status">
              Saved.
            </span>
          )}
        </SubmitRow>
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
        <ShownOnce note="New token, shown this once:">
          <CopyField label="Postback token (shown once)" value={rotate.data.token} secret />
          <CopyField label="Postback URL (with the new token)" value={rotate.data.template.url} />
        </ShownOnce>
      )}
    </section>
  );
}
