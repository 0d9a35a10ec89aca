// gRPC proper: servers (options, reflection, health, draining), typed clients, call security, status mapping.
export * from './client';
export * from './exception.filter';
export * from './server';
export * from './security';
export * from './ops-client';
export * from './drift';
