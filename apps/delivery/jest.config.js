/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'delivery', rootDir: __dirname };
