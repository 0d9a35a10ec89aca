/**
 * Postback URL templates: `{macro}` placeholders filled in with URL-encoded values, so a traffic source or SMS
 * platform gets a plain GET such as https://ts.example/pb?cid={click_id}&sum={payout}&cur={currency}.
 */
export const MACROS = [
  'click_id',
  'message_id',
  'conversion_id',
  'conversion_ref',
  'partner_id',
  'offer_id',
  'campaign_id',
  'creative_id',
  'contact_id',
  'payout',
  'payout_micros',
  'currency',
  'status',
  'event_type',
  'event_id',
  'occurred_at',
  'timestamp',
] as const;
export type Macro = (typeof MACROS)[number];
export type MacroValues = Partial<Record<Macro, string>>;

const MACRO_RE = /\{([a-z_]+)\}/g;
const KNOWN = new Set<string>(MACROS);

/** Problems with a template (unknown macros, not an http(s) URL once filled), empty when it is usable. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  const unknown = [...template.matchAll(MACRO_RE)].map((m) => m[1]).filter((m) => !KNOWN.has(m));
  if (unknown.length) problems.push(`unknown macros: ${[...new Set(unknown)].map((m) => `{${m}}`).join(', ')} (known: ${MACROS.map((m) => `{${m}}`).join(', ')})`);
  try {
    const url = new URL(renderTemplate(template, {}));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('must be an http or https URL');
  } catch {
    problems.push('is not a URL once its macros are filled in');
  }
  return problems;
}

/** Fills every known macro (absent values become empty); values are URL-encoded, the template itself is not. */
export function renderTemplate(template: string, values: MacroValues): string {
  return template.replace(MACRO_RE, (whole, name: string) => (KNOWN.has(name) ? encodeURIComponent(values[name as Macro] ?? '') : whole));
}

/** Integer micros as a decimal string without trailing zeros: 24990000 → "24.99", 5000000 → "5", -1500000 → "-1.5". */
export function microsToDecimal(micros: string): string {
  if (!/^-?\d+$/.test(micros)) return '';
  const neg = micros.startsWith('-');
  const digits = (neg ? micros.slice(1) : micros).padStart(7, '0');
  const whole = digits.slice(0, -6).replace(/^0+(?=\d)/, '');
  const frac = digits.slice(-6).replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}
