// Runtime building blocks with no business meaning: request batching, a bounded cache, single-flight loads, the noise limiter.
export * from './noise-limiter';
export * from './batcher';
export * from './lru-cache';
export * from './periodic-task';
export * from './single-flight';
