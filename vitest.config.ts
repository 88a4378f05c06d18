import { defineConfig } from "vitest/config";
import { defaultServerConditions } from "vite";

// Workspace packages resolve to their TypeScript sources through the `ortrl-source` export condition
// (the same condition tsconfig.json's customConditions names), so tests never need a build of them.
const conditions = ["ortrl-source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["ortrl-source"] } },
  test: {
    include: ["packages/*/src/**/*.test.ts", "examples/plugin-*/src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/slow/**", "**/node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
