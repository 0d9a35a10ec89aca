/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'attribution', rootDir: __dirname };
