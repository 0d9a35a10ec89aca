/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'tracking', rootDir: __dirname };
