import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/fail-on-console.ts'],
    reporters: ['default', './test/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores: keep heavy suites (libvirt, QEMU, helm) from fighting each other.
    maxWorkers: 2,
  },
});
