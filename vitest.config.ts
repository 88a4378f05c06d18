import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      "@ortrl/core": pkg("core"),
      "@ortrl/cpt": pkg("cpt"),
      "@ortrl/sft": pkg("sft"),
      "@ortrl/dpo": pkg("dpo"),
      "@ortrl/grpo": pkg("grpo"),
      "ortrl-plugin-orpo": fileURLToPath(new URL("./examples/plugin-orpo/src/index.ts", import.meta.url)),
    },
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "examples/plugin-*/src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["test/slow/**", "**/node_modules/**"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
