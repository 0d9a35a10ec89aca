/**
 * What a counted click is, in one place. The product guide: "subsequent clicks are tracked but not counted as new
 * engagements". So:
 * - a **tap** is a person's click: class HUMAN, or UNSPECIFIED (events from before classification, which were
 *   people's). Previews and bots are stored with their class and are nobody's tap;
 * - an **engagement** (the report's `clicks`, and the divisor of CTR's numerator, CVR and EPC) is the first tap of a
 *   message: earliest `clicked_at`, ties broken by click id, so every reader agrees on which tap it is whatever
 *   order the events arrived in. Tracking's `first_click_on_message` is not used: it is the first click of any
 *   class (a link preview fetched before the person tapped would take it), and tracking no longer derives it per row.
 *
 * The projection, the rollup rebuild, the reports and the migration that recounted the rollups all use the SQL below.
 */

/** Click classes that are people's taps. */
export const PERSON_CLICK_CLASSES = ['HUMAN', 'UNSPECIFIED'] as const;

/** A person's tap (counted as a tap; the first one of its message is the engagement). */
export function isTap(c: { clickClass: string }): boolean {
  return (PERSON_CLICK_CLASSES as readonly string[]).includes(c.clickClass);
}

/** The tap that is its message's engagement: the earliest, then the smallest click id. */
export function engagementOf<T extends { clickId: string; clickedAt: Date; clickClass: string }>(clicks: readonly T[]): T | undefined {
  let first: T | undefined;
  for (const c of clicks) {
    if (!isTap(c)) continue;
    if (!first || c.clickedAt.getTime() < first.clickedAt.getTime() || (c.clickedAt.getTime() === first.clickedAt.getTime() && c.clickId < first.clickId)) {
      first = c;
    }
  }
  return first;
}

/** SQL: the row (of "reporting".clicks, under `alias`) is a person's tap. */
export function tapSql(alias = ''): string {
  const p = alias ? `${alias}.` : '';
  return `${p}click_class IN (${PERSON_CLICK_CLASSES.map((c) => `'${c}'`).join(', ')})`;
}

/**
 * SQL: the engagement of each message (one row per message with a tap, every column of "reporting".clicks), optionally
 * restricted by `where` (e.g. `message_id = ANY($1::text[])`). Equal to engagementOf over the message's clicks.
 */
export function engagementsSql(where = ''): string {
  return `SELECT DISTINCT ON (message_id) * FROM "reporting".clicks
    WHERE ${tapSql()}${where ? ` AND (${where})` : ''}
    ORDER BY message_id, clicked_at, click_id`;
}
