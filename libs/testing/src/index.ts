export * from './infra';
export * from './built-app';
export * from './child-app';
