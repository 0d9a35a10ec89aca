export * from './client';
export * from './exception.filter';
export * from './server';
export * from './service-app';
export * from './http-exception.filter';
export * from './health.http.controller';
export * from './main-runner';
