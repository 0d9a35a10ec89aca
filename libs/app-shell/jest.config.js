/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'app-shell', rootDir: __dirname };
