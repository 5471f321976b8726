import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'projections/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // fails a test file whose responses broke the OpenAPI document
    setupFiles: ['test/support/response-contract-check.ts'],
    pool: 'forks',
    maxWorkers: 2,
    // Safety nets only: no test depends on them, and a busy machine (npm run test:stress) is slow.
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
