import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration suites start their own registry servers; keep the two cores from thrashing.
    maxWorkers: 2,
    setupFiles: ["test/setup/network.ts"],
    reporters: ["default", "./test/setup/summary-reporter.ts"],
  },
});
