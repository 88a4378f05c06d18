/** `npm run test:slow`: longer end-to-end runs (test/slow), run by .ci/run after `npm test`. */
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export default defineConfig({
  resolve: base.resolve,
  ssr: base.ssr,
  test: { include: ["test/slow/**/*.test.ts"], testTimeout: 900_000, hookTimeout: 120_000, pool: "forks" },
});
