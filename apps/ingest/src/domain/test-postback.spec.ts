import { fillPostbackTemplate, ownEdgeBaseUrl, redactToken } from './test-postback';

const c = { clickId: 'clk 1', conversionId: 'test-abc', payout: '1.00', currency: 'EUR' };

describe('fillPostbackTemplate', () => {
  it('fills a TUNE template in its own parameter names and drops macros without a value', () => {
    const url = 'http://h/postbacks/tn?token=T0k&click_id={aff_sub2}&transaction_id={transaction_id}&payout={payout}&currency={currency}&offer_id={offer_id}&goal_id={goal_id}&datetime={datetime}';
    expect(fillPostbackTemplate(url, '{aff_sub2}', c)).toBe('http://h/postbacks/tn?token=T0k&click_id=clk%201&transaction_id=test-abc&payout=1.00&currency=EUR');
  });

  it('fills an Everflow template with conversion_id and transaction_id', () => {
    const url = 'http://h/postbacks/ef?token=x&click_id={sub1}&transaction_id={transaction_id}&conversion_id={conversion_id}&event_id={event_id}&payout={payout}&currency={currency}&sale_amount={sale_amount}';
    expect(fillPostbackTemplate(url, '{sub1}', c)).toBe('http://h/postbacks/ef?token=x&click_id=clk%201&transaction_id=test-abc&conversion_id=test-abc&payout=1.00&currency=EUR');
  });

  it('fills a generic template including the status', () => {
    const url = 'http://h/postbacks/g?token=x&click_id={click_id}&conversion_id={conversion_id}&payout={payout}&currency={currency}&status={status}&occurred_at={occurred_at}';
    expect(fillPostbackTemplate(url, '{click_id}', c)).toBe('http://h/postbacks/g?token=x&click_id=clk%201&conversion_id=test-abc&payout=1.00&currency=EUR&status=approved');
  });
});

describe('redactToken / ownEdgeBaseUrl', () => {
  it('hides the token only', () => {
    expect(redactToken('http://h/p?token=abc-_1&click_id=t')).toBe('http://h/p?token=REDACTED&click_id=t');
  });

  it('reaches a wildcard host through loopback', () => {
    expect(ownEdgeBaseUrl('0.0.0.0', 3002)).toBe('http://127.0.0.1:3002');
    expect(ownEdgeBaseUrl('::', 1)).toBe('http://[::1]:1');
    expect(ownEdgeBaseUrl('10.0.0.5', 80)).toBe('http://10.0.0.5:80');
  });
});
