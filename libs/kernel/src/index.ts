export * from './clock';
export * from './errors';
export * from './ids';
export * from './money';
export * from './noise-limiter';
export * from './batcher';
export * from './lru-cache';
