// Shared Jest settings for every project. ts-jest transpiles only (isolated modules): type checking is done once,
// for the whole tree, by `npm run typecheck`.
const path = require('node:path');
const root = __dirname;

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/**/*.spec.ts', '<rootDir>/**/*.int-spec.ts', '<rootDir>/**/*.e2e-spec.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(root, 'tsconfig.spec.json') }],
  },
  moduleNameMapper: {
    '^@trackly/contracts/(.*)$': path.join(root, 'libs/contracts/src/gen/trackly/$1'),
    '^@trackly/([a-z-]+)$': path.join(root, 'libs/$1/src/index.ts'),
  },
  globalSetup: path.join(root, 'libs/testing/src/global-setup.js'),
  globalTeardown: path.join(root, 'libs/testing/src/global-teardown.js'),
  testTimeout: 30000,
};
