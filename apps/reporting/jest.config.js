/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'reporting', rootDir: __dirname };
