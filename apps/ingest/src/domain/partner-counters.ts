/** Per-partner counters from the archive's (partner, outcome, reason code) groups. */
import type { PartnerCounters } from '@trackly/contracts/ingest/v1/ingest';

export interface ArchiveGroup {
  partnerId: string;
  /** NULL while a request is still being handled. */
  outcome: string | null;
  reasonCode: string | null;
  count: bigint;
}

const REFUSALS = new Set(['invalid', 'unauthorized', 'forbidden', 'not_found']);

export function partnerCounters(groups: readonly ArchiveGroup[]): PartnerCounters[] {
  const byPartner = new Map<string, { received: bigint; stored: bigint; duplicates: bigint; adjusted: bigint; reversed: bigint; errors: bigint; rejected: Map<string, bigint> }>();
  for (const g of groups) {
    let c = byPartner.get(g.partnerId);
    if (!c) {
      c = { received: 0n, stored: 0n, duplicates: 0n, adjusted: 0n, reversed: 0n, errors: 0n, rejected: new Map() };
      byPartner.set(g.partnerId, c);
    }
    c.received += g.count;
    if (g.outcome === 'stored') c.stored += g.count;
    else if (g.outcome === 'duplicate') c.duplicates += g.count;
    else if (g.outcome === 'adjusted') c.adjusted += g.count;
    else if (g.outcome === 'reversed') c.reversed += g.count;
    else if (g.outcome === 'error') c.errors += g.count;
    else if (g.outcome && REFUSALS.has(g.outcome)) {
      // Rows archived before reason codes existed are counted under their outcome.
      const reason = g.reasonCode ?? g.outcome.toUpperCase();
      c.rejected.set(reason, (c.rejected.get(reason) ?? 0n) + g.count);
    }
  }
  return [...byPartner.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([partnerId, c]) => ({
      partnerId,
      received: c.received.toString(),
      stored: c.stored.toString(),
      duplicates: c.duplicates.toString(),
      adjusted: c.adjusted.toString(),
      reversed: c.reversed.toString(),
      errors: c.errors.toString(),
      rejectedByReason: Object.fromEntries([...c.rejected].map(([k, v]) => [k, v.toString()])),
    }));
}
