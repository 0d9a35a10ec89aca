/**
 * Domain errors carry a kind; adapters map kinds to gRPC or HTTP status codes in one place (an exception filter),
 * so the rules never know about transports.
 */
export type DomainErrorKind = 'INVALID_ARGUMENT' | 'NOT_FOUND' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION' | 'UNAVAILABLE';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
    /** Field-level details, e.g. { payout: 'must not be negative' }. */
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends DomainError {
  constructor(field: string, problem: string) {
    super('INVALID_ARGUMENT', `${field} ${problem}`, { [field]: problem });
  }

  /** Several field problems reported together. */
  static of(fields: Record<string, string>): DomainError {
    const text = Object.entries(fields).map(([f, p]) => `${f} ${p}`).join('; ');
    return new DomainError('INVALID_ARGUMENT', text, fields);
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    super('NOT_FOUND', `${what} "${id}" not found`);
  }
}

export class FailedPreconditionError extends DomainError {
  constructor(message: string) {
    super('FAILED_PRECONDITION', message);
  }
}
