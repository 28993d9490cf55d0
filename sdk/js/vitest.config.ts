import { defineConfig } from "vitest/config";

// Unit tests: the client against the in-memory fake server, with fake timers.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    environment: "node",
    restoreMocks: true,
  },
});
