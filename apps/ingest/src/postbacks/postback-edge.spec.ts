import { matchRoute } from './postback-edge';

describe('matchRoute (the routes the node:http postback edge takes from Express)', () => {
  it.each([
    ['/postbacks/gen', { route: 'postback', partnerId: 'gen', path: '/postbacks/gen', query: '' }],
    ['/postbacks/gen/?a=1', { route: 'postback', partnerId: 'gen', path: '/postbacks/gen/', query: 'a=1' }],
    ['/POSTBACKS/gen?x', { route: 'postback', partnerId: 'gen', path: '/POSTBACKS/gen', query: 'x' }],
    ['/postbacks/g%65n?a=%41', { route: 'postback', partnerId: 'gen', path: '/postbacks/g%65n', query: 'a=%41' }],
    ['/postbacks/gen/reversal', { route: 'reversal', partnerId: 'gen', path: '/postbacks/gen/reversal', query: '' }],
    ['/postbacks/gen/Reversal/?q=1', { route: 'reversal', partnerId: 'gen', path: '/postbacks/gen/Reversal/', query: 'q=1' }],
    ['/postbacks/reversal', { route: 'postback', partnerId: 'reversal', path: '/postbacks/reversal', query: '' }],
    ['http://host:8080/postbacks/gen?a=1', { route: 'postback', partnerId: 'gen', path: '/postbacks/gen', query: 'a=1' }],
  ])('%s is a postback route', (url, expected) => {
    expect(matchRoute(url)).toEqual(expected);
  });

  it.each(['/postbacks', '/postbacks/', '/postbacks//', '/postbacks/gen/other', '/postbacks/gen/reversal/x', '/postbacksx/gen', '/metrics', '/health', '/p', '*', 'gen'])(
    '%s is left to Express',
    (url) => expect(matchRoute(url)).toBeUndefined(),
  );

  it('leaves a partner id that does not decode to Express, which answers it 400 as before', () => {
    expect(matchRoute('/postbacks/g%ZZn')).toBeUndefined();
  });
});
