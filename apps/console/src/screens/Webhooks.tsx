import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api, qs } from '../api';
import { CopyField } from '../components/CopyField';
import { InputField, SelectField, ShownOnce, SubmitRow, submitWith, useForm } from '../components/Form';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { formatInstant, named, splitList } from '../format';
import { loadState, useApi } from '../load';
import { useSession } from '../session';

export interface Endpoint {
  endpointId: string;
  name?: string;
  kind?: string;
  url?: string;
  eventTypes?: string[];
  filters?: { campaignIds?: string[]; offerIds?: string[]; partnerIds?: string[] };
  active?: boolean;
  rateLimitPerSecond?: number;
  timeoutMs?: number;
  consecutiveFailures?: number;
  disabledReason?: string;
  previousSecretExpiresAt?: string;
}
interface Delivery {
  deliveryId: string;
  messageId: string;
  eventType?: string;
  status?: string;
  attempts?: number;
  lastStatusCode?: number;
  lastLatencyMs?: number;
  lastError?: string;
  createdAt?: string;
  nextAttemptAt?: string;
}

const EVENT_TYPES: [string, string][] = [
  ['conversion.attributed', 'Conversion attributed'],
  ['conversion.unattributed', 'Conversion unattributed'],
  ['conversion.adjusted', 'Conversion adjusted'],
  ['conversion.reversed', 'Conversion reversed'],
  ['click.recorded', 'Click recorded (high volume)'],
];
const TYPE_LABEL: Record<string, string> = {
  DELIVERY_EVENT_TYPE_CONVERSION_ATTRIBUTED: 'attributed',
  DELIVERY_EVENT_TYPE_CONVERSION_UNATTRIBUTED: 'unattributed',
  DELIVERY_EVENT_TYPE_CONVERSION_ADJUSTED: 'adjusted',
  DELIVERY_EVENT_TYPE_CONVERSION_REVERSED: 'reversed',
  DELIVERY_EVENT_TYPE_CLICK_RECORDED: 'click',
};
const STATUS_LABEL: Record<string, string> = { DELIVERY_STATUS_PENDING: 'pending', DELIVERY_STATUS_DELIVERED: 'delivered', DELIVERY_STATUS_FAILED: 'failed' };

/** Webhooks: outbound endpoints, creation (the signing secret shown once), each endpoint's delivery log and redelivery. */
export default function WebhooksScreen() {
  const [selected, setSelected] = useState('');
  const list = useApi<{ endpoints?: Endpoint[] }>(['webhooks'], '/api/delivery/endpoints');
  return (
    <Page title="Webhooks">
      <NeedsScope scope="webhooks:read">
        <section className="card" aria-labelledby="endpoints-title">
          <h2 id="endpoints-title">Endpoints</h2>
          <Status {...loadState(list, (d) => !d.endpoints?.length)} emptyText="No endpoint yet: add the first one below.">
            <Table label="Endpoints" testId="endpoints" headings={['Endpoint', 'Kind', 'URL', 'Events', 'State', num('Failures in a row'), 'Log']}>
              {(list.data?.endpoints ?? []).map((e) => (
                <tr key={e.endpointId}>
                  <td>{named(e.endpointId, e.name)}</td>
                  <td>{e.kind === 'ENDPOINT_KIND_POSTBACK_TEMPLATE' ? 'postback' : 'webhook'}</td>
                  <td className="wrap">
                    <code>{e.url}</code>
                  </td>
                  <td>{(e.eventTypes ?? []).map((t) => TYPE_LABEL[t] ?? t).join(', ')}</td>
                  <td>{e.active ? 'active' : e.disabledReason ? `disabled: ${e.disabledReason}` : 'inactive'}</td>
                  <td className="num">{e.consecutiveFailures ?? 0}</td>
                  <td>
                    <button type="button" className="link" aria-pressed={selected === e.endpointId} onClick={() => setSelected(e.endpointId)}>
                      Deliveries
                    </button>
                  </td>
                </tr>
              ))}
            </Table>
          </Status>
        </section>
        {selected && <DeliveryLog endpointId={selected} />}
      </NeedsScope>
      <NeedsScope scope="webhooks:write">
        <CreateEndpoint />
      </NeedsScope>
    </Page>
  );
}

function DeliveryLog({ endpointId }: { endpointId: string }) {
  const { settings, can } = useSession();
  const client = useQueryClient();
  const [status, setStatus] = useState('');
  const path = `/api/delivery/endpoints/${encodeURIComponent(endpointId)}`;
  const log = useApi<{ deliveries?: Delivery[] }>(['webhook-deliveries', endpointId, status], `${path}/deliveries${qs({ status, limit: '100' })}`);
  const redeliver = useMutation({
    mutationFn: (deliveryId: string) => api<{ queued?: number }>(`${path}/redeliver`, { method: 'POST', body: { delivery_id: deliveryId } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['webhook-deliveries', endpointId] }),
  });
  return (
    <section className="card" aria-labelledby="log-title">
      <h2 id="log-title">Deliveries to {endpointId}</h2>
      <SelectField label="Status" value={status} onChange={(e) => setStatus(e.target.value)} options={[['', 'any'], 'pending', 'delivered', 'failed']} />
      <Status {...loadState(log, (d) => !d.deliveries?.length)} error={log.error ?? redeliver.error} emptyText="Nothing delivered to this endpoint yet.">
        <Table
          label="Deliveries"
          testId="deliveries"
          headings={['Queued', 'Event', 'webhook-id', 'Status', num('Attempts'), num('Last HTTP'), num('Latency ms'), 'Error / next attempt', 'Redeliver']}
        >
          {(log.data?.deliveries ?? []).map((d) => (
            <tr key={d.deliveryId}>
              <td>{formatInstant(d.createdAt, settings.timeZone)}</td>
              <td>{TYPE_LABEL[d.eventType ?? ''] ?? d.eventType}</td>
              <td>
                <code>{d.messageId}</code>
              </td>
              <td>{STATUS_LABEL[d.status ?? ''] ?? d.status}</td>
              <td className="num">{d.attempts ?? 0}</td>
              <td className="num">{d.lastStatusCode || '—'}</td>
              <td className="num">{d.lastLatencyMs ?? '—'}</td>
              <td>{[d.lastError, d.nextAttemptAt ? `next ${formatInstant(d.nextAttemptAt, settings.timeZone)}` : ''].filter(Boolean).join(' · ')}</td>
              <td>
                {can('webhooks:write') && (
                  <button type="button" disabled={redeliver.isPending} onClick={() => redeliver.mutate(d.deliveryId)}>
                    Redeliver
                  </button>
                )}
              </td>
            </tr>
          ))}
        </Table>
      </Status>
    </section>
  );
}

function CreateEndpoint() {
  const client = useQueryClient();
  const { form, setForm, bind } = useForm({ endpoint_id: '', name: '', kind: 'webhook', url: '', campaigns: '', types: ['conversion.attributed'] as string[] });
  const create = useMutation({
    mutationFn: () =>
      api<{ endpoint: Endpoint; secret: string }>('/api/delivery/endpoints', {
        method: 'POST',
        body: {
          endpoint_id: form.endpoint_id.trim(), name: form.name, kind: form.kind, url: form.url.trim(), event_types: form.types,
          campaign_ids: splitList(form.campaigns),
        },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['webhooks'] }),
  });
  const toggle = (t: string) => setForm((f) => ({ ...f, types: f.types.includes(t) ? f.types.filter((x) => x !== t) : [...f.types, t] }));
  const done = create.data;
  return (
    <section className="card" aria-labelledby="create-endpoint-title">
      <h2 id="create-endpoint-title">Add an endpoint</h2>
      <form className="form grid-form" onSubmit={submitWith(() => create.mutate())}>
        <InputField label="Endpoint id" {...bind('endpoint_id')} required pattern="[A-Za-z0-9_\-]{1,64}" spellCheck={false} />
        <InputField label="Name" {...bind('name')} />
        <SelectField label="Kind" {...bind('kind')} options={[['webhook', 'Webhook (signed JSON POST)'], ['postback', 'Postback URL template (GET)']]} />
        <InputField
          wide
          label={form.kind === 'postback' ? 'URL template, e.g. https://ts.example/pb?cid={click_id}&sum={payout}&cur={currency}' : 'URL'}
          {...bind('url')}
          required
          spellCheck={false}
        />
        <fieldset className="field wide">
          <legend>Events</legend>
          {EVENT_TYPES.map(([t, label]) => (
            <label key={t} className="check">
              <input type="checkbox" checked={form.types.includes(t)} onChange={() => toggle(t)} /> {label}
            </label>
          ))}
        </fieldset>
        <InputField wide label="Only these campaigns (empty: any)" {...bind('campaigns')} spellCheck={false} />
        <SubmitRow label="Add endpoint" action={create} />
      </form>
      {done && (
        <ShownOnce
          testId="created-endpoint"
          note={
            <>
              Added {done.endpoint.endpointId}. Its signing secret is shown this once: keep it now, it cannot be read back (rotate it to get a new one).
              Verify each webhook's <code>webhook-signature</code> with it (Standard Webhooks).
            </>
          }
        >
          <CopyField label="Signing secret (shown once)" value={done.secret} secret />
        </ShownOnce>
      )}
    </section>
  );
}
