import { InvalidArgumentError } from '@trackly/kernel';
import { templateProblems } from './postback-template.rules';

/** Event types an endpoint can ask for, as they appear in a webhook body's `type`. */
export const EVENT_TYPES = ['conversion.attributed', 'conversion.unattributed', 'conversion.adjusted', 'conversion.reversed', 'click.recorded'] as const;
export type EventTypeName = (typeof EVENT_TYPES)[number];
export type EndpointKindName = 'WEBHOOK' | 'POSTBACK_TEMPLATE';

export interface EndpointFilters {
  campaignIds: string[];
  offerIds: string[];
  partnerIds: string[];
}

export interface EndpointSettings {
  endpointId: string;
  name: string;
  kind: EndpointKindName;
  url: string;
  eventTypes: EventTypeName[];
  filters: EndpointFilters;
  active: boolean;
  rateLimitPerSecond: number;
  timeoutMs: number;
}

export interface EndpointInput extends Omit<EndpointSettings, 'kind' | 'eventTypes' | 'rateLimitPerSecond' | 'timeoutMs'> {
  kind: EndpointKindName | undefined;
  eventTypes: (EventTypeName | undefined)[];
  rateLimitPerSecond: number;
  timeoutMs: number;
}

export const LIMITS = { defaultRatePerSecond: 50, maxRatePerSecond: 10_000, defaultTimeoutMs: 10_000, minTimeoutMs: 100, maxTimeoutMs: 30_000 };
const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks an endpoint's settings and fills defaults; every problem is reported at once. */
export function validateEndpoint(input: EndpointInput): EndpointSettings {
  const bad: Record<string, string> = {};
  if (!ID_RE.test(input.endpointId)) bad.endpoint_id = 'must be 1-64 letters, digits, "-" or "_"';
  if (!input.kind) bad.kind = 'must be WEBHOOK or POSTBACK_TEMPLATE';
  if (input.url.length > 2048) bad.url = 'must be at most 2048 characters';
  else if (input.kind === 'WEBHOOK') {
    try {
      const u = new URL(input.url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') bad.url = 'must be an http or https URL';
      else if (u.username || u.password) bad.url = 'must not carry credentials';
    } catch {
      bad.url = 'is not a URL';
    }
  } else if (input.kind === 'POSTBACK_TEMPLATE') {
    const problems = templateProblems(input.url);
    if (problems.length) bad.url = problems.join('; ');
  }
  const types = input.eventTypes.filter((t): t is EventTypeName => !!t);
  if (!types.length || types.length !== input.eventTypes.length) bad.event_types = `must list at least one of ${EVENT_TYPES.join(', ')} and nothing else`;
  const rate = input.rateLimitPerSecond || LIMITS.defaultRatePerSecond;
  if (rate > LIMITS.maxRatePerSecond) bad.rate_limit_per_second = `must be at most ${LIMITS.maxRatePerSecond}`;
  const timeout = input.timeoutMs || LIMITS.defaultTimeoutMs;
  if (timeout < LIMITS.minTimeoutMs || timeout > LIMITS.maxTimeoutMs) bad.timeout_ms = `must be ${LIMITS.minTimeoutMs}-${LIMITS.maxTimeoutMs}`;
  for (const [field, ids] of Object.entries({ 'filters.campaign_ids': input.filters.campaignIds, 'filters.offer_ids': input.filters.offerIds, 'filters.partner_ids': input.filters.partnerIds })) {
    if (ids.length > 1000 || ids.some((id) => !id || id.length > 128)) bad[field] = 'must hold at most 1000 non-empty ids';
  }
  if (Object.keys(bad).length) throw InvalidArgumentError.of(bad);
  return {
    endpointId: input.endpointId,
    name: input.name.trim() || input.endpointId,
    kind: input.kind!,
    url: input.url,
    eventTypes: [...new Set(types)],
    filters: { campaignIds: [...new Set(input.filters.campaignIds)], offerIds: [...new Set(input.filters.offerIds)], partnerIds: [...new Set(input.filters.partnerIds)] },
    active: input.active,
    rateLimitPerSecond: rate,
    timeoutMs: timeout,
  };
}

/** What fan-out needs to know of an event to pick endpoints. */
export interface EventScope {
  type: EventTypeName;
  campaignId?: string;
  offerId?: string;
  partnerId?: string;
}

/**
 * Whether an endpoint wants an event: the type is listed and every non-empty filter names the event's value. An
 * event that lacks a filtered dimension (a click has no partner; an adjustment of a conversion we never saw decided
 * has no campaign) does not pass that filter: a filtered endpoint never receives what it cannot be sure it asked for.
 */
export function wants(endpoint: Pick<EndpointSettings, 'eventTypes' | 'filters' | 'active'>, e: EventScope): boolean {
  if (!endpoint.active || !endpoint.eventTypes.includes(e.type)) return false;
  const pass = (ids: string[], v: string | undefined) => ids.length === 0 || (!!v && ids.includes(v));
  return pass(endpoint.filters.campaignIds, e.campaignId) && pass(endpoint.filters.offerIds, e.offerId) && pass(endpoint.filters.partnerIds, e.partnerId);
}

/**
 * Consecutive failures after a batch of attempt results of one endpoint, in completion order: a success resets the
 * count, each failure adds one.
 */
export function consecutiveFailuresAfter(before: number, outcomes: readonly boolean[]): number {
  let n = before;
  for (const ok of outcomes) n = ok ? 0 : n + 1;
  return n;
}

/** Whether an endpoint with this many failures in a row gets disabled (0 = never). */
export function shouldDisable(consecutiveFailures: number, threshold: number): boolean {
  return threshold > 0 && consecutiveFailures >= threshold;
}
