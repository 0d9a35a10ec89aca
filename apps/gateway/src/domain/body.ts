/**
 * Reading JSON request bodies field by field: every problem is collected and reported together (400, one message
 * per field), unknown fields are refused rather than ignored.
 */
import { InvalidArgumentError } from '@trackly/kernel';

export class BodyReader {
  readonly errors: Record<string, string> = {};
  private readonly b: Record<string, unknown>;

  constructor(body: unknown, known: readonly string[]) {
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      this.b = {};
      this.errors.body = 'must be a JSON object';
      return;
    }
    this.b = body as Record<string, unknown>;
    for (const k of Object.keys(this.b)) if (!known.includes(k)) this.errors[k.slice(0, 64)] = `is not a field here (known: ${known.join(', ')})`;
  }

  has(name: string): boolean {
    return this.b[name] !== undefined && this.b[name] !== null;
  }

  text(name: string, opts: { required?: boolean; max?: number; pattern?: RegExp; problem?: string } = {}): string {
    const v = this.b[name];
    if (v === undefined || v === null || v === '') {
      if (opts.required) this.errors[name] = 'is required';
      return '';
    }
    if (typeof v !== 'string') {
      this.errors[name] = 'must be a string';
      return '';
    }
    const t = v.trim();
    if (opts.max !== undefined && t.length > opts.max) this.errors[name] = `must be at most ${opts.max} characters`;
    else if (opts.pattern && !opts.pattern.test(t)) this.errors[name] = opts.problem ?? 'is not valid';
    return t;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.b[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.errors[name] = 'must be true or false';
      return fallback;
    }
    return v;
  }

  /** An optional whole number in [min, max]; undefined when absent (or null: "unset"). */
  int(name: string, min: number, max: number): number | undefined {
    const v = this.b[name];
    if (v === undefined || v === null || v === '') return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      this.errors[name] = `must be a whole number from ${min} to ${max}`;
      return undefined;
    }
    return n;
  }

  strings(name: string, opts: { max: number; itemMax: number }): string[] {
    const v = this.b[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      this.errors[name] = 'must be a list of strings';
      return [];
    }
    const items = (v as string[]).map((x) => x.trim()).filter(Boolean);
    if (items.length > opts.max) this.errors[name] = `must have at most ${opts.max} entries`;
    else if (items.some((x) => x.length > opts.itemMax)) this.errors[name] = `entries must be at most ${opts.itemMax} characters`;
    return items;
  }

  /** An instant given as an ISO 8601 date-time with a zone (2026-05-01T00:00:00Z, …+02:00). */
  instant(name: string, required: boolean): Date | undefined {
    const t = this.text(name, { required, max: 40 });
    if (!t) return undefined;
    const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/.test(t);
    const d = new Date(t);
    if (!ok || Number.isNaN(d.getTime())) {
      this.errors[name] = 'must be an ISO 8601 date-time with a zone, e.g. 2026-05-01T00:00:00Z';
      return undefined;
    }
    return d;
  }

  /** Throws 400 with every field problem found so far. */
  done(): void {
    if (Object.keys(this.errors).length) throw InvalidArgumentError.of(this.errors);
  }
}
