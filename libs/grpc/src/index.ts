export * from './client';
export * from './exception.filter';
export * from './server';
export * from './security';
export * from './service-app';
export * from './http-exception.filter';
export * from './health.http.controller';
export * from './main-runner';
// Moved to @trackly/database (consumers need it too); re-exported for the HTTP/gRPC edges.
export { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from '@trackly/database';
export * from './ops-client';
export * from './drift';
