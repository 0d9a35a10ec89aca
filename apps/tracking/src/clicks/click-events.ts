import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppTableRelay, cutRuns, Events, Messaging, RelayedEvent, runId } from '@trackly/messaging';
import type { Logger } from '@trackly/logging';
import { NATS_REQUEST_ID_HEADER } from '@trackly/observability';
import { Click, ClickClass } from '@trackly/contracts/tracking/v1/tracking';
import type { HitClass } from '../domain/click-classifier';
import { CLICK_TIME_TOLERANCE_MS } from '../domain/click-time';
import { TRACKING_LOGGER } from '../tracking.tokens';

/** A click as the relay and GetClick read it (snake_case: straight from pg). */
export interface ClickRow extends Record<string, unknown> {
  click_id: string;
  message_id: string;
  contact_id: string;
  offer_id: string;
  campaign_id: string;
  creative_id: string;
  clicked_ms: number;
  user_agent: string;
  click_class: HitClass;
  classification_reason: string;
  classifier_version: string;
  request_id: string | null;
  message_sent_ms: number | null;
  first_click_on_message: boolean;
}

/** CLICK_TIME_TOLERANCE_MS in SQL: the rule below states earliestClickTime (domain/click-time.ts) in the statement. */
const TOLERANCE = `interval '${CLICK_TIME_TOLERANCE_MS / 1000} seconds'`;

/**
 * "First click on message", derived instead of decided in the click's write: a HUMAN click is its message's first
 * click when no HUMAN click of the message comes before it in (xid, seq) order; rows from before the clicks table
 * became the event source (xid NULL) come before every new one and keep the flag they were written with. The relay
 * publishes a click only once every transaction older than its own has ended (xid below the snapshot's xmin), so the
 * answer it publishes is final: exactly one first click per message, whatever replicas or batches wrote the clicks.
 * clicks_message_human_idx (message_id, xid NULLS FIRST, seq NULLS FIRST) WHERE HUMAN serves the EXISTS in that order:
 * its first index entry for the message decides a repeat click, without a heap fetch per click of the message.
 *
 * The EXISTS is bounded from below (CLICK_TIME_TOLERANCE_MS): an earlier HUMAN click of the message was recorded no
 * earlier than a day before the message was registered or sent, whichever is earlier (m, CLICK_JOINS; a send time is
 * the caller's), so run-time pruning leaves it the partitions from then on. Unbounded it probed every partition kept
 * (a year of daily partitions: ~1 ms per click, most of the relay's read). A message row that is gone bounds nothing.
 * Nothing bounds it from above: that would rest on the replicas' clocks never going back by more than the tolerance,
 * and only prunes the week of partitions made ahead.
 */
const FIRST_CLICK = `CASE WHEN t.xid IS NULL THEN t.first_click_on_message ELSE t.click_class = 'HUMAN' AND NOT EXISTS (
    SELECT 1 FROM "tracking".clicks AS p
    WHERE p.message_id = t.message_id AND p.click_class = 'HUMAN' AND (p.xid IS NULL OR (p.xid, p.seq) < (t.xid, t.seq))
      AND p.clicked_at >= coalesce(least(m.created_at, m.sent_at) - ${TOLERANCE}, '-infinity')
  ) END`;

/** Times as epoch milliseconds (double): parsed far faster than timestamp strings, a relay batch at a time. */
export const CLICK_COLUMNS = `t.click_id, t.message_id, t.contact_id, t.offer_id, t.campaign_id, t.creative_id,
  date_part('epoch', t.clicked_at) * 1000 AS clicked_ms, t.user_agent, t.click_class, t.classification_reason,
  t.classifier_version, t.request_id, date_part('epoch', m.sent_at) * 1000 AS message_sent_ms,
  ${FIRST_CLICK} AS first_click_on_message`;

/**
 * The click's message (its send time, and the first-click rule's bound): CLICK_COLUMNS need it as `m`. A LATERAL
 * probe of the primary key that LIMIT keeps from being flattened into a join, so no plan of a read, the relay's
 * generic one included (ClickEventsRelay), can join all messages instead, whatever the statistics say. (With a plain
 * join the planner chooses; at 200,000 messages and 300,000 clicks it chose the same probes.)
 */
export const CLICK_JOINS = `LEFT JOIN LATERAL (SELECT msg.created_at, msg.sent_at FROM "tracking".messages AS msg
  WHERE msg.message_id = t.message_id LIMIT 1) AS m ON true`;

/** What the clicks relay reads (its read: tableRelayRead in libs/messaging; its plan is checked in click-time-bounds.int-spec). */
export const CLICK_RELAY_SOURCE = { table: '"tracking".clicks', columns: CLICK_COLUMNS, joins: CLICK_JOINS } as const;

const CLICK_CLASSES: Record<HitClass, ClickClass> = {
  HUMAN: ClickClass.CLICK_CLASS_HUMAN,
  PREVIEW: ClickClass.CLICK_CLASS_PREVIEW,
  BOT: ClickClass.CLICK_CLASS_BOT,
};

export function clickFromRow(r: ClickRow): Click {
  return {
    clickId: r.click_id,
    messageId: r.message_id,
    contactId: r.contact_id,
    offerId: r.offer_id,
    campaignId: r.campaign_id,
    creativeId: r.creative_id,
    clickedAt: new Date(r.clicked_ms),
    firstClickOnMessage: r.first_click_on_message,
    userAgent: r.user_agent,
    messageSentAt: r.message_sent_ms === null ? undefined : new Date(r.message_sent_ms),
    clickClass: CLICK_CLASSES[r.click_class] ?? ClickClass.CLICK_CLASS_UNSPECIFIED,
    classificationReason: r.classification_reason,
    classifierVersion: r.classifier_version,
  };
}

/** A click row as its ClickRecorded event (a click read alone; see clickRunEvents). */
export function clickEvent(row: ClickRow): RelayedEvent {
  return {
    subject: Events.ClickRecorded.subject,
    id: row.click_id,
    payload: Events.ClickRecorded.codec.encode({ click: clickFromRow(row) }).finish(),
    headers: row.request_id ? { [NATS_REQUEST_ID_HEADER]: row.request_id } : undefined,
  };
}

/**
 * Most clicks in one ClicksRecorded (~30 KB of payload with a browser's user agent each). Under a burst the relay
 * reads clicks by the hundred; each run is one message for the broker to store and deliver, one ack and one
 * processed event per consumer, where one per tap was most of the click edge's publishing cost.
 */
export const CLICKS_PER_RUN = 100;

/**
 * Click rows (in the order they were stored) as events, the relay's and a re-drive's: a click read alone is a
 * ClickRecorded as before (Nats-Msg-Id = the click id, the request id of its tap in Trackly-Request-Id), clicks read
 * together are runs of up to CLICKS_PER_RUN in ClicksRecorded (id = digest of the click ids; their taps' request ids
 * stay in tracking's rows). Consumers apply each click once by its click id whatever event carries it.
 */
export function clickRunEvents(rows: readonly ClickRow[]): RelayedEvent[] {
  return cutRuns(rows, CLICKS_PER_RUN).map((run) =>
    run.length === 1
      ? clickEvent(run[0])
      : {
          subject: Events.ClicksRecorded.subject,
          id: runId('click-run', run.map((r) => r.click_id)),
          payload: Events.ClicksRecorded.codec.encode({ clicks: run.map(clickFromRow) }).finish(),
        },
  );
}

/**
 * Publishes the clicks table (no outbox row per click) as ClickRecorded and ClicksRecorded (clickRunEvents). Started
 * with the app; stopped (after a final flush) by ClicksService once the last queued clicks are written.
 */
@Injectable()
export class ClickEventsRelay extends AppTableRelay<ClickRow> {
  constructor(ds: DataSource, messaging: Messaging, @Inject(TRACKING_LOGGER) logger: Logger) {
    super(ds, messaging, logger, {
      schema: 'tracking',
      name: 'clicks',
      ...CLICK_RELAY_SOURCE,
      timeColumn: 'clicked_at',
      // A tap should reach attribution within milliseconds; the poll only covers what no kick announced. The
      // linger lets the commits of a few ms share one read and one cursor update (one pass per click otherwise
      // when each click commits alone, group commit off).
      pollMs: 100,
      lingerMs: 10,
      // Planned once: a custom plan per read cost more than the read (0.7–1.6 ms against ~1 ms for 60 clicks).
      genericPlan: true,
      toEvents: clickRunEvents,
    });
  }
}
