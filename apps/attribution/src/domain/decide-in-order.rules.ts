/**
 * Deciding a batch of conversions in memory, in order. The only fact a conversion's decision takes from the ones
 * decided before it is the DUPLICATE twin: the credited conversion holding its fingerprint. `CreditLedger` keeps
 * that map as the decisions table would have it after each earlier decision of the batch, so a batch decides
 * exactly as one-at-a-time decisions with a query per conversion would (a property test checks this).
 */
import { decide, Decision, DecisionInput, AttributionPolicy, DEFAULT_POLICY } from './first-click.rules';
import { recordUsage } from './caps.rules';

/** The credited holder of each fingerprint (one at most: a unique index enforces it), updated as a batch decides. */
export class CreditLedger {
  /** Fingerprints given up during this batch, and by which conversion. */
  private readonly released = new Map<string, string>();

  constructor(private readonly holders: Map<string, string> = new Map()) {}

  /** The credited conversion (another id) holding this fingerprint now, if any. */
  twinOf(fp: string | null, conversionId: string): string | undefined {
    if (!fp) return undefined;
    const holder = this.holders.get(fp);
    return holder !== undefined && holder !== conversionId ? holder : undefined;
  }

  /**
   * Records a conversion's new verdict: `before` is what it held until now (re-attribution), `after` what it holds
   * from now. Returns true when it takes a fingerprint another conversion of this batch gave up: written in one
   * statement, those two rows could trip the unique index mid-statement, so the writer must go row by row.
   */
  record(conversionId: string, before: { credited: boolean; fp: string | null } | undefined, after: { credited: boolean; fp: string | null }): boolean {
    if (before?.credited && before.fp && this.holders.get(before.fp) === conversionId && !(after.credited && after.fp === before.fp)) {
      this.holders.delete(before.fp);
      this.released.set(before.fp, conversionId);
    }
    if (!after.credited || !after.fp) return false;
    this.holders.set(after.fp, conversionId);
    const by = this.released.get(after.fp);
    return by !== undefined && by !== conversionId;
  }
}

/** One conversion of a batch: its rule input (without `duplicateOf`, which the ledger supplies at its turn). */
export interface OrderedInput {
  input: Omit<DecisionInput, 'duplicateOf'>;
  fp: string | null;
  /** What the conversion holds now (re-attribution of a stored decision); absent for a first decision. */
  before?: { credited: boolean; fp: string | null };
}

export interface OrderedDecision {
  decision: Decision;
  /** True when this decision takes a fingerprint an earlier one of the batch released (see CreditLedger.record). */
  takesReleased: boolean;
}

/**
 * Decides each conversion in order against the ledger, recording each verdict before the next is decided, so a
 * twin credited earlier in the same batch makes a later one DUPLICATE. `apply: false` (a dry run) leaves the
 * ledger as it was found for every conversion: each is then decided against the stored state only.
 */
export function decideInOrder(items: OrderedInput[], ledger: CreditLedger, policy: AttributionPolicy = DEFAULT_POLICY, apply = true): OrderedDecision[] {
  return items.map(({ input, fp, before }) => {
    const conversionId = input.conversion.conversionId;
    const decision = decide({ ...input, duplicateOf: ledger.twinOf(fp, conversionId) }, policy);
    const takesReleased = apply ? ledger.record(conversionId, before, { credited: decision.outcome === 'ATTRIBUTED', fp }) : false;
    // A credit of the batch counts against the caps of the conversions after it.
    if (apply && input.rules && input.usage && decision.outcome === 'ATTRIBUTED' && !decision.overCap && decision.status !== 'REVERSED' && !input.conversion.test) {
      recordUsage(input.rules, input.usage, input.conversion.partnerId, input.conversion.occurredAt, decision.payout);
    }
    return { decision, takesReleased };
  });
}
