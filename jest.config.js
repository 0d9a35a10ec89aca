// `npx jest` at the root runs every project's specs in one worker pool.
/** @type {import('jest').Config} */
module.exports = {
  projects: ['<rootDir>/libs/*/jest.config.js', '<rootDir>/apps/*/jest.config.js', '<rootDir>/deploy/jest.config.js'],
};
