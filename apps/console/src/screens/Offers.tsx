import { InputHTMLAttributes, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { NeedsScope, Page } from '../App';
import { api } from '../api';
import { InputField, SubmitRow, submitWith } from '../components/Form';
import { Amount } from '../components/Money';
import { Reattribution } from '../components/Reattribution';
import { Status } from '../components/Status';
import { num, Table } from '../components/Table';
import { formatInstant, Money, micros } from '../format';
import { loadState, useApi } from '../load';
import { useSession } from '../session';

interface Offer {
  offerId: string;
  name?: string;
  destinationUrlTemplate?: string;
  defaultPayout?: Money;
  clickWindowDays?: number;
  minConversionSeconds?: number;
  viewThroughWindowDays?: number;
  updatedAt?: string;
}

const BLANK = { offer_id: '', name: '', destination_url_template: '', default_payout: '', currency: 'USD', click_window_days: '', min_conversion_seconds: '', view_through_window_days: '' };
type Draft = typeof BLANK;

const draftOf = (o: Offer): Draft => ({
  offer_id: o.offerId,
  name: o.name ?? '',
  destination_url_template: o.destinationUrlTemplate ?? '',
  default_payout: o.defaultPayout?.amount ?? '',
  currency: o.defaultPayout?.currencyCode ?? 'USD',
  click_window_days: o.clickWindowDays?.toString() ?? '',
  min_conversion_seconds: o.minConversionSeconds?.toString() ?? '',
  view_through_window_days: o.viewThroughWindowDays?.toString() ?? '',
});

/** The offer catalog: the list with every term, and the form that changes them (then re-attribution's diff). */
export default function OffersScreen() {
  const { settings } = useSession();
  const list = useApi<{ offers?: Offer[] }>(['offers'], '/api/offers');
  const [draft, setDraft] = useState<Draft>(BLANK);
  return (
    <Page title="Offers">
      <section className="card" aria-labelledby="offers-title">
        <h2 id="offers-title">Catalog</h2>
        <Status {...loadState(list, (d) => !d.offers?.length)} emptyText="No offer yet.">
          <Table
            label="Offers"
            headings={['Offer', num('Window'), num('Minimum'), num('View window'), num('Default payout'), 'Updated', <span className="sr-only">Actions</span>]}
          >
                {(list.data?.offers ?? []).map((o) => (
                  <tr key={o.offerId}>
                    <td>{o.name} ({o.offerId})</td>
                    <td className="num">{o.clickWindowDays ?? 90} days</td>
                    <td className="num">{o.minConversionSeconds ? `${o.minConversionSeconds} s` : 'none'}</td>
                    <td className="num">{o.viewThroughWindowDays ? `${o.viewThroughWindowDays} days` : 'off'}</td>
                    <td className="num">{o.defaultPayout && <Amount currency={o.defaultPayout.currencyCode} value={micros(o.defaultPayout)} />}</td>
                    <td>{formatInstant(o.updatedAt, settings.timeZone)}</td>
                    <td>
                      <button type="button" onClick={() => setDraft(draftOf(o))}>Edit</button>
                    </td>
                  </tr>
                ))}
          </Table>
        </Status>
      </section>
      <NeedsScope scope="offers:write">
        <OfferForm draft={draft} setDraft={setDraft} />
      </NeedsScope>
    </Page>
  );
}

function OfferForm({ draft, setDraft }: { draft: Draft; setDraft: (d: Draft) => void }) {
  const queryClient = useQueryClient();
  const save = useMutation({
    // The catalog above shows the saved terms at once.
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ['offers'] }),
    mutationFn: (d: Draft) => {
      const int = (v: string) => (v.trim() === '' ? null : Number(v));
      return api<{ offer: Offer; created: boolean }>(`/api/offers/${encodeURIComponent(d.offer_id.trim())}`, {
        method: 'PUT',
        body: {
          name: d.name, destination_url_template: d.destination_url_template, default_payout: d.default_payout, currency: d.currency,
          click_window_days: int(d.click_window_days), min_conversion_seconds: int(d.min_conversion_seconds), view_through_window_days: int(d.view_through_window_days),
        },
      });
    },
  });
  const field = (name: keyof Draft, label: string, props: InputHTMLAttributes<HTMLInputElement> = {}) => (
    <InputField label={label} name={name} value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} spellCheck={false} {...props} />
  );
  const saved = save.data?.offer;
  return (
    <section className="card" aria-labelledby="offer-form-title">
      <h2 id="offer-form-title">Create or edit an offer</h2>
      <p className="muted">Every term is written: a term left empty is unset (window: the 90-day default; minimum: none; view-through: off).</p>
      <form className="form grid-form" onSubmit={submitWith(() => save.mutate(draft))}>
        {field('offer_id', 'Offer id', { required: true, pattern: '[A-Za-z0-9][A-Za-z0-9._:\\-]{0,127}' })}
        {field('name', 'Name', { required: true })}
        {field('destination_url_template', 'Destination URL (with {click_id})', { required: true, type: 'url' })}
        {field('default_payout', 'Default payout', { required: true, inputMode: 'decimal', pattern: '\\d+([.,]\\d{1,6})?' })}
        {field('currency', 'Currency', { required: true, pattern: '[A-Za-z]{3}', maxLength: 3 })}
        {field('click_window_days', 'Click window (days, 1-365)', { type: 'number', min: 1, max: 365 })}
        {field('min_conversion_seconds', 'Minimum seconds from click to conversion', { type: 'number', min: 0, max: 86400 })}
        {field('view_through_window_days', 'View-through window (days, 1-90)', { type: 'number', min: 1, max: 90 })}
        <SubmitRow label="Save offer" action={save}>
          {saved && !save.isPending && (
            <span role="status" className="status status-ok">
              Saved {saved.name} ({saved.offerId}): window {saved.clickWindowDays ?? 90} days{save.data!.created ? ' (new offer)' : ''}.
            </span>
          )}
        </SubmitRow>
      </form>
      {saved && (
        <NeedsScope scope="operations:write">
          <h3>Effect on decided conversions</h3>
          <p className="muted">Decisions already made keep their terms until re-attributed. See what the new terms would change for offer {saved.offerId}, then apply.</p>
          <Reattribution key={`${saved.offerId}-${saved.updatedAt}`} request={{ offer: saved.offerId }} />
        </NeedsScope>
      )}
    </section>
  );
}
