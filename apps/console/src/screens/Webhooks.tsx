import { FormEvent, useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api, qs } from '../api';
import { CopyField } from '../components/CopyField';
import { Status } from '../components/Status';
import { formatInstant } from '../format';
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
  const list = useQuery({ queryKey: ['webhooks'], queryFn: () => api<{ endpoints?: Endpoint[] }>('/api/delivery/endpoints') });
  const endpoints = list.data?.endpoints ?? [];
  return (
    <Page title="Webhooks">
      <NeedsScope scope="webhooks:read">
        <section className="card" aria-labelledby="endpoints-title">
          <h2 id="endpoints-title">Endpoints</h2>
          <Status pending={list.isPending} error={list.error} empty={!!list.data && !endpoints.length} emptyText="No endpoint yet: add the first one below.">
            <div className="table-scroll" tabIndex={0} role="region" aria-label="Endpoints">
              <table data-testid="endpoints">
                <thead>
                  <tr>
                    <th scope="col">Endpoint</th>
                    <th scope="col">Kind</th>
                    <th scope="col">URL</th>
                    <th scope="col">Events</th>
                    <th scope="col">State</th>
                    <th scope="col" className="num">Failures in a row</th>
                    <th scope="col">Log</th>
                  </tr>
                </thead>
                <tbody>
                  {endpoints.map((e) => (
                    <tr key={e.endpointId}>
                      <td>{e.name && e.name !== e.endpointId ? `${e.name} (${e.endpointId})` : e.endpointId}</td>
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
                </tbody>
              </table>
            </div>
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
  const log = useQuery({
    queryKey: ['webhook-deliveries', endpointId, status],
    queryFn: () => api<{ deliveries?: Delivery[] }>(`/api/delivery/endpoints/${encodeURIComponent(endpointId)}/deliveries${qs({ status, limit: '100' })}`),
  });
  const redeliver = useMutation({
    mutationFn: (deliveryId: string) => api<{ queued?: number }>(`/api/delivery/endpoints/${encodeURIComponent(endpointId)}/redeliver`, { method: 'POST', body: { delivery_id: deliveryId } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['webhook-deliveries', endpointId] }),
  });
  const rows = log.data?.deliveries ?? [];
  const statusId = useId();
  return (
    <section className="card" aria-labelledby="log-title">
      <h2 id="log-title">Deliveries to {endpointId}</h2>
      <div className="field">
        <label htmlFor={statusId}>Status</label>
        <select id={statusId} value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">any</option>
          <option value="pending">pending</option>
          <option value="delivered">delivered</option>
          <option value="failed">failed</option>
        </select>
      </div>
      <Status pending={log.isPending} error={log.error ?? redeliver.error} empty={!!log.data && !rows.length} emptyText="Nothing delivered to this endpoint yet.">
        <div className="table-scroll" tabIndex={0} role="region" aria-label="Deliveries">
          <table data-testid="deliveries">
            <thead>
              <tr>
                <th scope="col">Queued</th>
                <th scope="col">Event</th>
                <th scope="col">webhook-id</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">Attempts</th>
                <th scope="col" className="num">Last HTTP</th>
                <th scope="col" className="num">Latency ms</th>
                <th scope="col">Error / next attempt</th>
                <th scope="col">Redeliver</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
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
            </tbody>
          </table>
        </div>
      </Status>
    </section>
  );
}

function CreateEndpoint() {
  const client = useQueryClient();
  const ids = { id: useId(), name: useId(), kind: useId(), url: useId(), campaigns: useId() };
  const [form, setForm] = useState({ endpoint_id: '', name: '', kind: 'webhook', url: '', campaigns: '', types: ['conversion.attributed'] as string[] });
  const create = useMutation({
    mutationFn: () =>
      api<{ endpoint: Endpoint; secret: string }>('/api/delivery/endpoints', {
        method: 'POST',
        body: {
          endpoint_id: form.endpoint_id.trim(), name: form.name, kind: form.kind, url: form.url.trim(), event_types: form.types,
          campaign_ids: form.campaigns.split(/[\s,]+/).filter(Boolean),
        },
      }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['webhooks'] }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  const set = (k: 'endpoint_id' | 'name' | 'kind' | 'url' | 'campaigns') => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });
  const toggle = (t: string) => setForm({ ...form, types: form.types.includes(t) ? form.types.filter((x) => x !== t) : [...form.types, t] });
  const done = create.data;
  return (
    <section className="card" aria-labelledby="create-endpoint-title">
      <h2 id="create-endpoint-title">Add an endpoint</h2>
      <form className="form grid-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={ids.id}>Endpoint id</label>
          <input id={ids.id} value={form.endpoint_id} onChange={set('endpoint_id')} required pattern="[A-Za-z0-9_\-]{1,64}" spellCheck={false} />
        </div>
        <div className="field">
          <label htmlFor={ids.name}>Name</label>
          <input id={ids.name} value={form.name} onChange={set('name')} />
        </div>
        <div className="field">
          <label htmlFor={ids.kind}>Kind</label>
          <select id={ids.kind} value={form.kind} onChange={set('kind')}>
            <option value="webhook">Webhook (signed JSON POST)</option>
            <option value="postback">Postback URL template (GET)</option>
          </select>
        </div>
        <div className="field wide">
          <label htmlFor={ids.url}>{form.kind === 'postback' ? 'URL template, e.g. https://ts.example/pb?cid={click_id}&sum={payout}&cur={currency}' : 'URL'}</label>
          <input id={ids.url} value={form.url} onChange={set('url')} required spellCheck={false} />
        </div>
        <fieldset className="field wide">
          <legend>Events</legend>
          {EVENT_TYPES.map(([t, label]) => (
            <label key={t} className="check">
              <input type="checkbox" checked={form.types.includes(t)} onChange={() => toggle(t)} /> {label}
            </label>
          ))}
        </fieldset>
        <div className="field wide">
          <label htmlFor={ids.campaigns}>Only these campaigns (empty: any)</label>
          <input id={ids.campaigns} value={form.campaigns} onChange={set('campaigns')} spellCheck={false} />
        </div>
        <div className="button-row">
          <button type="submit" disabled={create.isPending}>
            Add endpoint
          </button>
          <Status pending={create.isPending} error={create.error} />
        </div>
      </form>
      {done && (
        <div className="card inner token-once" data-testid="created-endpoint">
          <p role="status">
            Added {done.endpoint.endpointId}. Its signing secret is shown this once: keep it now, it cannot be read back (rotate it to get a new
            one). Verify each webhook's <code>webhook-signature</code> with it (Standard Webhooks).
          </p>
          <CopyField label="Signing secret (shown once)" value={done.secret} secret />
        </div>
      )}
    </section>
  );
}
