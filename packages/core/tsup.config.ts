import { defineConfig } from "tsup";

// Two entry points: the package (dist/index.js) and its test helpers (dist/testing.js, `@ortrl/core/testing`).
export default defineConfig({
  entry: { index: "src/index.ts", testing: "src/testing/index.ts" },
  format: "esm",
  target: "node20",
  clean: true,
});
