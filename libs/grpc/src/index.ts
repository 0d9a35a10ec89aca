export * from './client';
export * from './exception.filter';
export * from './server';
export * from './security';
export * from './service-app';
export * from './http-exception.filter';
export * from './health.http.controller';
export * from './main-runner';
