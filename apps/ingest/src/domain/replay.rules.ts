/** Which archived requests a replay takes. */
import type { ReplayPostbacksRequest } from '@trackly/contracts/ingest/v1/ingest_service';
import { FieldProblems, partnerIdProblem, Validated } from './conversion.rules';

export const ARCHIVE_OUTCOMES = ['stored', 'duplicate', 'adjusted', 'reversed', 'invalid', 'unauthorized', 'forbidden', 'not_found', 'error'] as const;
/** What a replay is for: requests refused or failed, which a fixed mapping or token may now let through. */
export const DEFAULT_REPLAY_OUTCOMES = ['invalid', 'unauthorized', 'forbidden', 'not_found', 'error'];
export const DEFAULT_REPLAY_LIMIT = 1000;
export const MAX_REPLAY_LIMIT = 10_000;

export interface ReplayQuery {
  partnerId: string;
  from: Date;
  to: Date;
  outcomes: string[];
  limit: number;
  dryRun: boolean;
}

export function validateReplay(req: ReplayPostbacksRequest): Validated<ReplayQuery> {
  const fields: FieldProblems = {};
  const partner = partnerIdProblem(req.partnerId ?? '');
  if (partner) fields.partner_id = partner;
  if (!req.receivedFrom) fields.received_from = 'is required';
  if (!req.receivedTo) fields.received_to = 'is required';
  if (req.receivedFrom && req.receivedTo && req.receivedFrom.getTime() >= req.receivedTo.getTime()) fields.received_to = 'must be after received_from';
  const known = new Set<string>(ARCHIVE_OUTCOMES);
  const unknown = (req.outcomes ?? []).filter((o) => !known.has(o));
  if (unknown.length) fields.outcomes = `must be among ${ARCHIVE_OUTCOMES.join(', ')}; got ${unknown.map((o) => `"${o.slice(0, 20)}"`).join(', ')}`;
  const limit = req.limit || DEFAULT_REPLAY_LIMIT;
  if (limit > MAX_REPLAY_LIMIT) fields.limit = `must be at most ${MAX_REPLAY_LIMIT}`;
  if (Object.keys(fields).length) return { ok: false, fields };
  return {
    ok: true,
    value: {
      partnerId: req.partnerId,
      from: req.receivedFrom!,
      to: req.receivedTo!,
      outcomes: req.outcomes?.length ? [...new Set(req.outcomes)] : DEFAULT_REPLAY_OUTCOMES,
      limit,
      dryRun: req.dryRun,
    },
  };
}
