import { ClosedConnectionError, ConnectionError, DrainingConnectionError, NoRespondersError, TimeoutError } from '@nats-io/nats-core';
import { MessagingUnavailableError } from './messaging';

/**
 * True when an error says NATS or its JetStream cannot answer right now (a server restarting, a store being
 * recovered, a connection closed or reconnecting), not that the request or the data is wrong. Looks through
 * `cause` chains: nats-core wraps a timeout or "no responders" in a RequestError. The apps' exception filter
 * (libs/app-shell) answers such an error 503 with Retry-After, or UNAVAILABLE over gRPC (a re-drive right after
 * nats-server restarts), as it does an unreachable database.
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
