/**
 * Calendar days and IANA time zones: one spelling for every service (the gateway's report query, reporting's report
 * query, ingest's partner zones). Pure: Intl's zone database, no clock.
 */
import { MS_PER_DAY } from './clock';

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
/** Area/Location names (Etc/GMT+5, America/Argentina/Buenos_Aires, UTC); no offsets, POSIX rules, spaces or dots. */
const ZONE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

/** The zone's canonical IANA name ("utc" -> "UTC", "europe/berlin" -> "Europe/Berlin"), or undefined when it is not one the runtime knows. */
export function canonicalTimeZone(name: string): string | undefined {
  if (!name || name.length > 64 || !ZONE.test(name)) return undefined;
  const known = canonicalZones.get(name);
  if (known !== undefined) return known;
  let canonical: string;
  try {
    canonical = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  // Only names the runtime knows are kept, so the cache is bounded by its zone database (spellings aside: capped).
  if (canonicalZones.size < MAX_CACHED_ZONES) canonicalZones.set(name, canonical);
  return canonical;
}

/**
 * Building an Intl.DateTimeFormat costs ~0.1 ms, and every report query names its zone: the gateway and reporting
 * resolve the same few zones again and again.
 */
const canonicalZones = new Map<string, string>();
const MAX_CACHED_ZONES = 2_000;

/** Days since 1970-01-01 of a real calendar day written YYYY-MM-DD (years 0001–9999), else undefined. */
export function epochDay(text: string): number | undefined {
  const m = DAY.exec(text ?? '');
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const at = new Date(Date.UTC(y, mo - 1, d));
  // Date.UTC rolls 2026-02-30 over to March and maps years below 100 to 19xx: a round trip catches both.
  if (y < 1 || at.getUTCFullYear() !== y || at.getUTCMonth() !== mo - 1 || at.getUTCDate() !== d) return undefined;
  return Math.round(at.getTime() / MS_PER_DAY);
}

/** The calendar day `at` falls on in `timeZone`, YYYY-MM-DD. */
export function localDay(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
}

/** YYYY-MM-DD moved by whole days. */
export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * MS_PER_DAY).toISOString().slice(0, 10);
}
