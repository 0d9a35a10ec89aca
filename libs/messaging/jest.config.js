/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'messaging', rootDir: __dirname };
