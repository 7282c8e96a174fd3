import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    // Rebuilds dist/main when it is older than the sources: CLI tests must run the current code.
    // (Not inside Stryker's mutation workers: they run unit tests on instrumented sources, never the CLI.)
    globalSetup: process.env.STRYKER_MUTATOR_WORKER ? [] : ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: ORT sessions already use the thread pool, so parallel files just thrash.
    fileParallelism: false,
  },
});
