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
    // Files share their worker's module graph instead of importing the product again each: no
    // module keeps state (one composition root, factories only) and no test mocks or stubs a
    // global, so nothing carries from one file to the next. It cut the embedded run from 797 s to
    // 621 s (module imports 204 s -> 11 s of the workers' time), every test passing on both backends.
    isolate: false,
  },
});
