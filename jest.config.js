/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
    // ESM-only dependencies (hyparquet, hyparquet-writer) are loaded in CommonJS under jest.
    '^.+/node_modules/hyparquet(-writer)?/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Sources use NodeNext-style relative imports ending in .js; map them to the .ts files.
  // Examples import the package by name, as users do; in tests that is the source, not dist/.
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^coupler$': '<rootDir>/src/index.ts',
    '^coupler/vantage6$': '<rootDir>/src/vantage6/index.ts',
  },
  testTimeout: 60000,
  maxWorkers: 2,
  verbose: false,
};
