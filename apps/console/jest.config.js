/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'console', rootDir: __dirname };
