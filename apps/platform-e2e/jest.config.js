/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'platform-e2e', rootDir: __dirname };
