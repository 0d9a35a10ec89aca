/**
 * Offer destination templates: absolute http(s) URLs with macros filled in at redirect time. The destination is
 * only ever the offer's own template; nothing from the click request chooses where it goes (no open redirect).
 */
import { InvalidArgumentError } from '@trackly/kernel';

export const MACROS = ['click_id', 'message_id', 'campaign_id', 'creative_id', 'offer_id'] as const;
export type Macro = (typeof MACROS)[number];

const MACRO_PATTERN = /\{([a-z_]+)\}/g;
/** Anything in braces, so {CLICK_ID} or {click-id} is reported as unknown rather than kept as text. */
const BRACED = /\{([^{}]*)\}/g;
const MAX_TEMPLATE_LENGTH = 2048;

export function validateDestinationTemplate(template: string, field = 'destination_url_template'): string {
  if (!template) throw new InvalidArgumentError(field, 'is required');
  if (template.length > MAX_TEMPLATE_LENGTH) throw new InvalidArgumentError(field, `must be at most ${MAX_TEMPLATE_LENGTH} characters`);
  const unknown = [...template.matchAll(BRACED)].map((m) => m[1]).filter((m) => !MACROS.includes(m as Macro));
  if (unknown.length) throw new InvalidArgumentError(field, `has unknown macro {${unknown[0]}}; known: ${MACROS.map((m) => `{${m}}`).join(' ')}`);
  if (!template.includes('{click_id}')) throw new InvalidArgumentError(field, 'must contain the {click_id} macro');
  let url: URL;
  try {
    url = new URL(template.replace(MACRO_PATTERN, 'x'));
  } catch {
    throw new InvalidArgumentError(field, 'must be an absolute URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidArgumentError(field, 'must be an http or https URL');
  if (!url.hostname || url.username || url.password) throw new InvalidArgumentError(field, 'must name a host and carry no credentials');
  // Macros only after the host: a message id must never be able to choose where the contact is sent.
  const authorityEnd = template.indexOf('/', template.indexOf('//') + 2);
  const authority = authorityEnd === -1 ? template : template.slice(0, authorityEnd);
  if (/\{[^{}]*\}/.test(authority)) throw new InvalidArgumentError(field, 'may use macros only in the path, query or fragment, not in the host');
  if (/^https?:\/\/\//i.test(template)) throw new InvalidArgumentError(field, 'must name a host');
  if (/[\s\\]/.test(template)) throw new InvalidArgumentError(field, 'must not contain spaces or backslashes');
  return template;
}

/** Fills the macros, URL-encoding each value, so a value can never change the URL's structure. */
export function renderDestination(template: string, values: Record<Macro, string>): string {
  return template.replace(MACRO_PATTERN, (whole, name: string) =>
    MACROS.includes(name as Macro) ? encodeURIComponent(values[name as Macro]) : whole,
  );
}

/** A part of a template between two `{click_id}`s: its text around the other macros, and those macros in order. */
interface CompiledPart {
  /** One more than `macros`: the text before each macro, then the rest. */
  literals: string[];
  macros: Exclude<Macro, 'click_id'>[];
}

/**
 * Templates parsed (compileParts), by their text: a blast's links share their offer's few templates, and a link's
 * first tap then fills a parsed template instead of running renderDestination's regex over it. Cleared when full.
 */
const compiled = new Map<string, CompiledPart[]>();
const COMPILED_MAX = 1_000;

function compileParts(template: string): CompiledPart[] {
  let parts = compiled.get(template);
  if (parts) return parts;
  parts = template.split('{click_id}').map((part) => {
    const literals: string[] = [];
    const macros: Exclude<Macro, 'click_id'>[] = [];
    let from = 0;
    for (const m of part.matchAll(MACRO_PATTERN)) {
      // What renderDestination leaves as text (an unknown name) stays in the literal.
      if (!MACROS.includes(m[1] as Macro)) continue;
      literals.push(part.slice(from, m.index));
      macros.push(m[1] as Exclude<Macro, 'click_id'>);
      from = (m.index as number) + m[0].length;
    }
    literals.push(part.slice(from));
    return { literals, macros };
  });
  if (compiled.size >= COMPILED_MAX) compiled.clear();
  compiled.set(template, parts);
  return parts;
}

/**
 * renderDestination split at each `{click_id}`, with every other macro filled: what a link's redirects share,
 * computed once per link so a tap only joins the parts around its click id (fillDestination). A macro never spans a
 * `{click_id}` (macros hold no braces), so the result is renderDestination's.
 */
export function destinationParts(template: string, values: Omit<Record<Macro, string>, 'click_id'>): string[] {
  return compileParts(template).map(({ literals, macros }) => {
    let out = literals[0];
    for (let i = 0; i < macros.length; i++) out += encodeURIComponent(values[macros[i]]) + literals[i + 1];
    return out;
  });
}

/** The destination of one tap: the link's parts (destinationParts) joined by its URL-encoded click id. */
export function fillDestination(parts: readonly string[], clickId: string): string {
  const id = encodeURIComponent(clickId);
  let url = parts[0];
  for (let i = 1; i < parts.length; i++) url += id + parts[i];
  return url;
}
