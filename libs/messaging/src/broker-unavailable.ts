import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, TimeoutError } from '@nats-io/nats-core';
import { DomainError } from '@trackly/kernel';
import { MessagingUnavailableError } from './messaging';

/**
 * True when an error says NATS or its JetStream cannot answer right now (a server restarting, a store being
 * recovered, a connection closed or reconnecting), not that the request or the data is wrong. Looks through
 * `cause` chains: nats-core wraps a timeout or "no responders" in a RequestError.
 */
export function isBrokerUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    if (
      e instanceof TimeoutError ||
      e instanceof NoRespondersError ||
      e instanceof ClosedConnectionError ||
      e instanceof DrainingConnectionError ||
      e instanceof ConnectionError ||
      e instanceof MessagingUnavailableError
    ) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The error a gRPC handler that publishes itself (a re-drive) ends with when the broker cannot take it now:
 * UNAVAILABLE, so the operator retries, as for an unreachable database. Anything else is passed on unchanged.
 */
export function brokerUnavailableAsDomainError(error: unknown): unknown {
  if (!isBrokerUnavailable(error)) return error;
  return new DomainError('UNAVAILABLE', `NATS JetStream is not answering (${(error as Error).message}); retry shortly`);
}
