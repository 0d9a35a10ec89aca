import { exactAmount, formatMoney, Money as M, micros } from '../format';

/** One amount: two decimals with the currency's symbol; the exact value on hover. */
export function Amount({ currency, value }: { currency: string; value: bigint | undefined }) {
  if (value === undefined) return <span className="muted">–</span>;
  return (
    <span className="amount" title={`${exactAmount(value)} ${currency}`}>
      {formatMoney(currency, value)}
    </span>
  );
}

/** Money per currency inside one cell, one line each (never converted). */
export function MoneyList({ items }: { items: (M | undefined)[] }) {
  const list = items.filter((m): m is M => !!m && !!m.currencyCode);
  if (!list.length) return <span className="muted">–</span>;
  return (
    <span className="money-list">
      {list.map((m) => (
        <Amount key={m.currencyCode} currency={m.currencyCode} value={micros(m)} />
      ))}
    </span>
  );
}
