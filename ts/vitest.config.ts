import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // One file at a time: a multicast test whose sender and receiver share an event loop must not
    // compete with the CPU-heavy property tests for the machine's two cores.
    fileParallelism: false,
  },
});
