import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Multicast tests take turns with the CPU-heavy ones on small machines.
    maxWorkers: 2,
  },
});
