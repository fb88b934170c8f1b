import { defineConfig } from 'vitest/config';

// Share of lines of each deployed piece the tests must run (`vitest run --coverage`, as `npm test`
// does); CI fails below it. Only code run in this process counts: the tests that start the
// built CLI as a child process (on dist/) add nothing, so each command also has an in-process test.
const LINE_FLOOR = { lines: 90 };

/**
 * End-to-end files (`*e2e*.test.ts`, e.g. `vhostuser.e2e.test.ts`) each bring up the machine's one real stack (hugepages,
 * libvirtd, OVS-DPDK; scripts/e2e-vhostuser.sh), so they run one at a time, after the rest.
 */
const E2E = 'test/**/*e2e*.test.ts';

export default defineConfig({
  test: {
    setupFiles: ['test/fail-on-console.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: keep heavy suites (libvirt, QEMU, helm) from fighting each other.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [E2E], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'e2e', include: [E2E], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
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
