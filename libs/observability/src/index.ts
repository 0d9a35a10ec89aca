export * from './context';
export * from './grpc.interceptor';
export * from './http';
export * from './metrics';
export * from './tracing';
