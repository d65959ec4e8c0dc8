// Jest runs the TypeScript sources directly as ES modules (the Kubernetes client is ESM-only):
// @swc/jest strips types, Node's VM modules load the result. See docs/decisions/0002-esm-and-jest.md.
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    // Sources import siblings as './x.js' (NodeNext); map them back to the .ts file.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    '^@palisade/(crds|sidecar|operator)$': '<rootDir>/$1/src/index.ts',
    '^@palisade/crds/examples$': '<rootDir>/crds/src/examples.ts',
    '^@palisade/crds/runtime$': '<rootDir>/crds/src/runtime.ts',
  },
  testEnvironment: 'node',
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{crds,sidecar,operator,bench}/src/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{sidecar,operator}/test/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/src/**/*.test.ts', '<rootDir>/operator/test/**/*.e2e.ts'],
      testTimeout: 60_000,
      globalSetup: '<rootDir>/e2e/src/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/src/global-teardown.ts',
    },
    {
      // Real pods: needs the local node (`make e2e-node` brings it up and down).
      ...common,
      displayName: 'e2e-node',
      testMatch: ['<rootDir>/e2e/src/**/*.node.ts'],
      testTimeout: 120_000,
      globalSetup: '<rootDir>/e2e/src/global-setup.ts',
      globalTeardown: '<rootDir>/e2e/src/global-teardown.ts',
    },
  ],
};
