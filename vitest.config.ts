import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Each file gets its own process: Pulumi's mock runtime is process-global state.
    pool: "forks",
    reporters: ["default"],
  },
});
