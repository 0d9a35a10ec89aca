/** Identifier rules shared by every service's edges. */
import { InvalidArgumentError } from './errors';

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Caller-chosen ids: 1..128 of letters, digits, '.', '_', ':', '-'; no spaces or control characters. */
export function assertId(value: string, field: string): string {
  if (!ID.test(value)) {
    throw new InvalidArgumentError(field, value ? 'must be 1-128 letters, digits, ".", "_", ":" or "-"' : 'is required');
  }
  return value;
}

const E164 = /^\+[1-9]\d{7,14}$/;

export function assertE164(value: string, field = 'phone_e164'): string {
  if (!E164.test(value)) throw new InvalidArgumentError(field, 'must be an E.164 number such as +15551234567');
  return value;
}

/** "+15551231234" -> "+1***1234": keeps the country code's first digit and the last four digits. */
export function maskPhone(e164: string): string {
  if (e164.length < 7) return '***';
  return `${e164.slice(0, 2)}***${e164.slice(-4)}`;
}
