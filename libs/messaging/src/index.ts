export * from './consumer';
export * from './events';
export * from './messaging';
export * from './messaging.module';
export * from './outbox';
export * from './table-relay';
export * from './redrive';
export * from './redrive-grpc';
