// Flat config: typescript-eslint's recommended rules, the project tag constraint table, and the rule that domain
// code (pure business rules) imports no framework, ORM, broker or transport.
const tseslint = require('typescript-eslint');
const reactHooks = require('eslint-plugin-react-hooks');
const moduleBoundaries = require('./tools/eslint/module-boundaries.js');

const FRAMEWORK_IMPORTS = [
  { group: ['@nestjs/*'], message: 'domain code is framework-free: no NestJS here' },
  { group: ['typeorm', 'typeorm/*', '@nestjs/typeorm', 'pg', 'pg/*'], message: 'domain code does no persistence' },
  { group: ['nats', 'nats/*', '@nats-io/*'], message: 'domain code does no messaging' },
  { group: ['@grpc/*', '@trackly/grpc', '@trackly/database', '@trackly/messaging', '@trackly/config', '@trackly/logging'], message: 'domain code does no I/O' },
];

module.exports = tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/contracts/src/gen/**', 'coverage/**', '.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { trackly: { rules: { 'module-boundaries': moduleBoundaries } } },
    rules: {
      'trackly/module-boundaries': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // The console (React): the rules of hooks and their dependency lists.
    files: ['apps/console/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['apps/*/src/domain/**/*.ts', 'libs/kernel/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: FRAMEWORK_IMPORTS }] },
  },
);
