/** @type {import('jest').Config} */
const shared = {
  testEnvironment: 'node',
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true }] },
};

/**
 * unit: no processes, servers or external tools; integration: servers on 127.0.0.1 and promtool in
 * this process' tests; e2e: the built exporter as a process, with Prometheus and Alertmanager.
 */
module.exports = {
  testTimeout: 30000,
  projects: ['unit', 'integration', 'e2e'].map((name) => ({
    ...shared,
    displayName: name,
    roots: [`<rootDir>/test/${name}`],
  })),
};
