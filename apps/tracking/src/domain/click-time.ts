/**
 * How much earlier than its message's registration or send time (the earlier of the two) a click may be recorded: a
 * day. The edge only records taps on registered links, so only a replica whose clock is a day behind could record one
 * earlier. The first-click rule and GetMessage's count look for a message's clicks from then on, which bounds them to
 * the partitions (by day of clicked_at) that can hold them instead of every partition kept.
 */
export const CLICK_TIME_TOLERANCE_MS = 86_400_000;

/** The earliest a click of a message registered at `createdAt` and sent at `sentAt` can have been recorded. */
export function earliestClickTime(createdAt: Date, sentAt: Date): Date {
  return new Date(Math.min(createdAt.getTime(), sentAt.getTime()) - CLICK_TIME_TOLERANCE_MS);
}
