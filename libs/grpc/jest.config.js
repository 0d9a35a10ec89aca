/** @type {import('jest').Config} */
module.exports = { ...require('../../jest.preset.js'), displayName: 'grpc', rootDir: __dirname };
