/** Validation of a conversion handed to attribution (gRPC callers; events from ingest are already valid). */
import { assertId, InvalidArgumentError, Money, normaliseCurrency, DomainError } from '@trackly/kernel';
import { ConversionStatus } from './first-click.rules';

export interface ConversionToDecide {
  partnerId: string;
  conversionId: string;
  conversionRef: string;
  clickId: string;
  /** Our message id echoed back by the partner ('' when none): the contact reference for view-through. */
  messageId: string;
  payout: Money;
  status: ConversionStatus;
  occurredAt: Date;
  /** A partner's test conversion. */
  test: boolean;
  /** How it reached attribution. */
  source: ConversionSource;
  /** The postback carried no payout (`payout` is then zero and the offer's default payout applies). */
  payoutAbsent: boolean;
}

export type ConversionSource = 'INGEST' | 'DIRECT';

export interface RawConversionInput {
  partnerId: string;
  conversionId: string;
  conversionRef?: string;
  clickId: string;
  messageId?: string;
  payout?: { currencyCode: string; amountMicros: string };
  status: ConversionStatus | undefined;
  occurredAt?: Date;
}

export function validateConversionInput(input: RawConversionInput, now: Date): ConversionToDecide {
  const problems: Record<string, string> = {};
  const attempt = (field: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      problems[field] = Object.values(e.fields)[0] ?? e.message;
    }
  };
  attempt('partner_id', () => assertId(input.partnerId, 'partner_id'));
  attempt('conversion_id', () => assertId(input.conversionId, 'conversion_id'));
  if (input.clickId.length > 256) problems.click_id = 'must be at most 256 characters';
  if (input.messageId) attempt('message_id', () => assertId(input.messageId!, 'message_id'));
  let payout: Money | undefined;
  if (!input.payout) problems.payout = 'is required';
  else {
    attempt('payout.currency_code', () => {
      const currency = normaliseCurrency(input.payout!.currencyCode, 'payout.currency_code');
      if (!/^-?\d{1,19}$/.test(input.payout!.amountMicros)) throw new InvalidArgumentError('payout.amount_micros', 'must be an integer');
      const micros = BigInt(input.payout!.amountMicros);
      if (micros < 0n) throw new InvalidArgumentError('payout.amount_micros', 'must not be negative');
      payout = { currency, micros };
    });
  }
  if (Object.keys(problems).length) throw InvalidArgumentError.of(problems);
  return {
    partnerId: input.partnerId,
    conversionId: input.conversionId,
    conversionRef: input.conversionRef ?? '',
    clickId: input.clickId,
    messageId: input.messageId ?? '',
    payout: payout!,
    status: input.status ?? 'APPROVED',
    occurredAt: input.occurredAt ?? now,
    test: false,
    source: 'DIRECT',
    payoutAbsent: false,
  };
}
