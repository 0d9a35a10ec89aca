import { status } from '@grpc/grpc-js';
import { GrpcCallError } from '@trackly/grpc';
import { DomainError } from '@trackly/kernel';

/** Whether a downstream Get finds the thing (`present` judges the answer): NOT_FOUND is false, other errors throw. */
export function found<T>(get: Promise<T>, present: (answer: T) => boolean = () => true): Promise<boolean> {
  return get.then(present, (e: unknown) => {
    if (e instanceof GrpcCallError && e.code === status.NOT_FOUND) return false;
    throw e;
  });
}

/**
 * POST (create) over a downstream's upsert RPC: 409 when `what` already exists, and 409 too when another request
 * created it between the check and the upsert (`created` false), so its secret stays that request's and this one
 * never pretends it created it. `verb` says what creating is called for it ("created", "registered").
 */
export async function createOnly<R>(
  what: string,
  exists: () => Promise<boolean>,
  upsert: () => Promise<R>,
  created: (answer: R) => boolean,
  verb = 'created',
): Promise<R> {
  if (await exists()) throw new DomainError('ALREADY_EXISTS', `${what} already exists: change it with PUT, or pick another id`);
  const answer = await upsert();
  if (!created(answer)) throw new DomainError('ALREADY_EXISTS', `${what} was ${verb} by another request just now`);
  return answer;
}
