export * from './data-source';
export * from './database.module';
export * from './transformers';
export * from './raw-pool';
export * from './group-commit';
export * from './database-unavailable';
