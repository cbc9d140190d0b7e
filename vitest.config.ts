import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The web UI is built first when missing or stale (the server serves web/app/dist).
    globalSetup: ['test/support/build-ui.ts', 'test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: more workers only adds contention with PGlite's WASM start-up.
    maxWorkers: 2,
  },
});
