export * from './infra';
export * from './built-app';
export * from './child-app';
export * from './raw-http';
export * from './postgres-line';
export * from './fake-redrive-server';
