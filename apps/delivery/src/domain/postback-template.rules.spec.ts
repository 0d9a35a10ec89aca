import { microsToDecimal, renderTemplate, templateProblems } from './postback-template.rules';

describe('postback URL templates', () => {
  it('fills macros URL-encoded, leaving the template itself alone', () => {
    const url = renderTemplate('https://ts.example/pb?cid={click_id}&sum={payout}&cur={currency}&s={status}&m={message_id}&x=a%20b', {
      click_id: 'ab c&d=1', payout: '24.99', currency: 'USD', status: 'approved', message_id: 'm/1?#',
    });
    expect(url).toBe('https://ts.example/pb?cid=ab%20c%26d%3D1&sum=24.99&cur=USD&s=approved&m=m%2F1%3F%23&x=a%20b');
  });

  it('fills absent values with nothing and keeps unknown braces', () => {
    expect(renderTemplate('https://a.example/?o={offer_id}&c={campaign_id}&z={zzz}', { offer_id: 'o1' })).toBe('https://a.example/?o=o1&c=&z={zzz}');
  });

  it('reports unknown macros and non-http templates', () => {
    expect(templateProblems('https://a.example/?cid={click_id}&p={payout}')).toEqual([]);
    expect(templateProblems('https://a.example/?cid={clickid}')[0]).toMatch(/unknown macros: \{clickid\}/);
    expect(templateProblems('ftp://a.example/{click_id}')).toEqual(['must be an http or https URL']);
    expect(templateProblems('{click_id}')).toEqual(['is not a URL once its macros are filled in']);
  });

  it('writes micros as exact decimals', () => {
    expect(['24990000', '5000000', '0', '1', '-1500000', '123456789012345678'].map(microsToDecimal)).toEqual(['24.99', '5', '0', '0.000001', '-1.5', '123456789012.345678']);
    expect(microsToDecimal('1e6')).toBe('');
  });
});
