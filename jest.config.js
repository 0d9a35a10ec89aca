// `npx jest` at the root runs every project's specs in one worker pool. testTimeout is a global option (Jest ignores
// it in a project's config), so it is set here as well as in the preset: hooks that boot an app on a loaded
// 2-core machine take longer than Jest's 5 s default.
/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30000,
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js', '<rootDir>/deploy/jest.config.js', '<rootDir>/tools/ops/jest.config.js'],
};
