import { defineConfig } from "vitest/config";

// Integration tests: the built bundles, and both SDKs against a real parleyd (PARLEYD, default
// ../../build/dev/server/parleyd). Files run one after another: each starts its own servers.
export default defineConfig({
  test: {
    include: ["test/package/**/*.test.ts", "test/integration/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 60000,
    hookTimeout: 30000,
    pool: "forks",
  },
});
