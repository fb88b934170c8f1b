import { defineConfig } from 'vitest/config';

// Share of lines of each deployed piece the tests must run (`vitest run --coverage`, as `npm test`
// does); CI fails below it. Only code run in this process counts: the tests that start the
// built CLI as a child process (on dist/) add nothing, so each command also has an in-process test.
const LINE_FLOOR = { lines: 90 };

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/fail-on-console.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: keep heavy suites (libvirt, QEMU, helm) from fighting each other.
    maxWorkers: 2,
    coverage: {
      provider: 'v8',
      include: ['converter/src/**/*.ts', 'webhook/src/**/*.ts', 'sidecar/src/**/*.ts'],
      reporter: [['text', { skipFull: true }], 'text-summary', 'json-summary'],
      thresholds: {
        'converter/src/**': LINE_FLOOR,
        'webhook/src/**': LINE_FLOOR,
        'sidecar/src/**': LINE_FLOOR,
      },
    },
  },
});
