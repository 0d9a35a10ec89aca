import { useId } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api';
import { useSession } from '../session';

/** A registered partner as GET /api/partners lists it (only what the picker needs). */
export interface PartnerOption {
  partnerId: string;
  name?: string;
}

/** The registered partners (first 500), for keys that may read them; none otherwise. */
export function usePartners(): { partners: PartnerOption[]; readable: boolean } {
  const { can, checking } = useSession();
  const readable = !checking && can('partners:read');
  const list = useQuery({
    queryKey: ['partners', 'options'],
    queryFn: () => api<{ partners?: PartnerOption[] }>('/api/partners?page_size=500'),
    enabled: readable,
  });
  return { partners: list.data?.partners ?? [], readable: readable && !list.isError };
}

/**
 * The partner filter: a choice among the registered partners, or, for a key that may not list partners (a
 * campaign-scoped one), ids typed by hand. `value` is a comma-separated list of ids ('' = every partner).
 */
export function PartnerPicker({ value, onChange, partners, readable }: {
  value: string;
  onChange: (v: string) => void;
  partners: PartnerOption[];
  readable: boolean;
}) {
  const id = useId();
  if (!readable) {
    return (
      <div className="field">
        <label htmlFor={id}>Partner ids</label>
        <input id={id} value={value} placeholder="any" onChange={(e) => onChange(e.target.value)} spellCheck={false} />
      </div>
    );
  }
  return (
    <div className="field">
      <label htmlFor={id}>Partner</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">any partner</option>
        {partners.map((p) => (
          <option key={p.partnerId} value={p.partnerId}>
            {p.name && p.name !== p.partnerId ? `${p.name} (${p.partnerId})` : p.partnerId}
          </option>
        ))}
      </select>
    </div>
  );
}
