/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'ops', rootDir: __dirname };
