import { ClosedConnectionError, NoRespondersError, RequestError, TimeoutError } from '@nats-io/nats-core';
import { isBrokerUnavailable } from './broker-unavailable';
import { MessagingUnavailableError } from './messaging';

describe('broker unavailable', () => {
  it('recognises timeouts, no responders and closed connections, also as the cause of a RequestError', () => {
    expect(isBrokerUnavailable(new TimeoutError())).toBe(true);
    expect(isBrokerUnavailable(new RequestError('request failed', { cause: new TimeoutError() }))).toBe(true);
    expect(isBrokerUnavailable(new RequestError('no responders', { cause: new NoRespondersError('$JS.API.STREAM.INFO.X') }))).toBe(true);
    expect(isBrokerUnavailable(new ClosedConnectionError())).toBe(true);
    expect(isBrokerUnavailable(new MessagingUnavailableError('NATS does not answer'))).toBe(true);
  });

  it('leaves every other error alone: a bug stays an internal error', () => {
    expect(isBrokerUnavailable(new Error('boom'))).toBe(false);
    expect(isBrokerUnavailable(new RequestError('bad request'))).toBe(false);
    expect(isBrokerUnavailable(undefined)).toBe(false);
    expect(isBrokerUnavailable(new TypeError('x is undefined'))).toBe(false);
  });
});
