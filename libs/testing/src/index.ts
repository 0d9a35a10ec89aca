export * from './infra';
export * from './built-app';
