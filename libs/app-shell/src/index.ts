// The app shell every service starts from: Nest bootstrap with its gRPC server and HTTP listener, the main.ts runner
// (serve or migrate, readable start-up failures), the HTTP error shape and health routes.
export * from './service-app';
export * from './http-exception.filter';
export * from './health.http.controller';
export * from './main-runner';
