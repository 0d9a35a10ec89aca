import { useMutation, useQueryClient } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api } from '../api';
import { CopyField } from '../components/CopyField';
import { InputField, SelectField, ShownOnce, SubmitRow, submitWith, TextAreaField, useForm } from '../components/Form';
import { PartnerLink } from '../components/Links';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { formatCount, formatInstant, named, splitList } from '../format';
import { loadState, useApi } from '../load';
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
  const list = useApi<{ partners?: Partner[] }>(['partners'], '/api/partners');
  return (
    <Page title="Partners">
      <NeedsScope scope="partners:read">
        <section className="card" aria-labelledby="partners-title">
          <h2 id="partners-title">Partners</h2>
          <Status {...loadState(list, (d) => !d.partners?.length)} emptyText="No partner is registered yet: register the first one below.">
            <Table
              label="Partners"
              testId="partners"
              headings={['Partner', 'Platform', num('Received'), num('Stored'), num('Duplicates'), num('Refused'), 'Allow-list', 'Token issued', 'Last postback']}
            >
              {(list.data?.partners ?? []).map((p) => (
                <tr key={p.partnerId}>
                  <td>
                    <PartnerLink id={p.partnerId}>{named(p.partnerId, p.name)}</PartnerLink>
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
            </Table>
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
  const { form, bind } = useForm({ partner_id: '', name: '', kind: 'tune', click_id_param: '', default_currency: 'USD', allowed: '' });
  const create = useMutation({
    mutationFn: () =>
      api<{ partner: Partner; token: string; template: Template }>('/api/partners', {
        method: 'POST',
        body: {
          partner_id: form.partner_id.trim(), name: form.name, kind: form.kind, click_id_param: form.click_id_param, default_currency: form.default_currency,
          allowed_sources: splitList(form.allowed),
        },
      }),
    onSuccess: (r) => {
      tokens.set(r.partner.partnerId, r.token);
      client.invalidateQueries({ queryKey: ['partners'] });
    },
  });
  const done = create.data;
  return (
    <section className="card" aria-labelledby="create-title">
      <h2 id="create-title">Register a partner</h2>
      <form className="form grid-form" onSubmit={submitWith(() => create.mutate())}>
        <InputField label="Partner id (in the postback path)" {...bind('partner_id')} required pattern="[A-Za-z0-9_\-]{1,64}" spellCheck={false} />
        <InputField label="Name" {...bind('name')} />
        <SelectField label="Platform" {...bind('kind')} options={[['tune', 'TUNE (HasOffers)'], ['everflow', 'Everflow'], ['generic', 'Generic']]} />
        <InputField label="Click id parameter (empty: the platform's default)" {...bind('click_id_param')} spellCheck={false} />
        <InputField label="Default currency" {...bind('default_currency')} pattern="[A-Z]{3}" maxLength={3} />
        <TextAreaField wide label="Allow-list (IPs, CIDR or TUNE ranges; empty: any address)" {...bind('allowed')} rows={2} spellCheck={false} />
        <SubmitRow label="Register partner" action={create} />
      </form>
      {done && (
        <ShownOnce
          testId="created-partner"
          note={
            <>
              Registered <PartnerLink id={done.partner.partnerId} />. Its token is shown this once: keep it now, it cannot be read back (rotate it to get a
              new one).
            </>
          }
        >
          <CopyField label="Postback token (shown once)" value={done.token} secret />
          <CopyField label={`Postback URL for ${KIND_LABEL[done.partner.kind ?? ''] ?? 'the partner'} (with the token)`} value={done.template.url} />
        </ShownOnce>
      )}
    </section>
  );
}
