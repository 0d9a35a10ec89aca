/**
 * What a repeated conversion (same partner and dedupe key) does to the stored one: the same status and payout is a
 * duplicate; a different status or payout is an adjustment (an approval, a rejection, a corrected payout). A
 * reversed conversion stays reversed: a late retry of the original postback must not bring the revenue back.
 */
import type { Money } from '@trackly/kernel';
import { ConversionDraft, externalIdProblem, FieldProblems, hiddenCharacterProblem, RawParams, Validated } from './conversion.rules';

export type AdjustmentCause = 'postback' | 'reversal' | 'import' | 'replay';

export interface ConversionState {
  status: ConversionDraft['status'];
  payout: Money;
}

export type RepeatVerdict = { kind: 'duplicate'; reason: string } | { kind: 'adjusted' };

/** Why a repeat is a duplicate: the same status and payout, or a conversion already reversed. */
export const DUPLICATE_REASONS = {
  same: 'conversion already stored with this status and payout',
  reversed: 'conversion was reversed; later postbacks do not change it',
} as const;

/**
 * A repeat of a stored conversion: a duplicate when it says what is stored or the conversion was reversed, else an
 * adjustment. The postback batch's lockless statement (INTAKE_LOCKLESS_SQL in postback-intake.ts) decides duplicates
 * by the same rule in SQL; apps/ingest/src/postbacks/postback-batch.int-spec.ts holds the two to the same answers.
 */
export function repeatVerdict(stored: ConversionState, incoming: ConversionState, reversed: ConversionDraft['status']): RepeatVerdict {
  const samePayout = stored.payout.currency === incoming.payout.currency && stored.payout.micros === incoming.payout.micros;
  if (stored.status === incoming.status && samePayout) return { kind: 'duplicate', reason: DUPLICATE_REASONS.same };
  if (stored.status === reversed) return { kind: 'duplicate', reason: DUPLICATE_REASONS.reversed };
  return { kind: 'adjusted' };
}

/** How a reversal names its conversion: the narrowest key only (a bare transaction id would reverse every event). */
export type ReversalKey = { conversionId: string } | { transactionId: string; eventId: string | null };

/**
 * Reads a reversal request: conversion_id, or transaction_id with event_id (goal_id for TUNE; 0 = the base
 * conversion). A transaction id alone is refused: it names every event of one click.
 */
export function parseReversal(params: RawParams): Validated<ReversalKey> {
  const one = (name: string): string | undefined | { problem: string } => {
    if (!Object.hasOwn(params, name)) return undefined;
    const v = params[name];
    if (Array.isArray(v)) return { problem: `must be given once, got ${v.length} values` };
    const hidden = hiddenCharacterProblem(v);
    if (hidden) return { problem: hidden };
    const t = v.trim();
    if (!t) return undefined;
    const p = externalIdProblem(t);
    return p ? { problem: p } : t;
  };
  const fields: FieldProblems = {};
  const read = (name: string) => {
    const v = one(name);
    if (typeof v === 'object') {
      fields[name] = v.problem;
      return undefined;
    }
    return v;
  };
  const conversionId = read('conversion_id');
  const transactionId = read('transaction_id');
  const eventId = read('event_id') ?? read('goal_id');
  if (Object.keys(fields).length) return { ok: false, fields };
  if (conversionId) return { ok: true, value: { conversionId } };
  if (!transactionId) return { ok: false, fields: { conversion_id: 'is required (or transaction_id with event_id)' } };
  if (eventId === undefined) {
    return {
      ok: false,
      fields: { event_id: 'is required with transaction_id (0 for the base conversion): a transaction id alone would reverse every event of the click' },
    };
  }
  return { ok: true, value: { transactionId, eventId: eventId === '0' ? null : eventId } };
}
