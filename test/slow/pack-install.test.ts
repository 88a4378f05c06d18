/**
 * Publishable packages: `npm pack` of @ortrl/core and the example plugin (ortrl-plugin-orpo), installed
 * into an empty project outside the workspace (the npm registry for third-party dependencies, the
 * tarballs for ortrl's own), a TypeScript file compiled there with `tsc` against the installed
 * declaration files only, and a few LoRA ORPO steps on stories260K whose loss must fall.
 * Needs the packages built (`npm run test:slow` builds them) and the npm registry (or its cache).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { REPO_ROOT, SHARED } from "../helpers/cli.js";

const run = (cmd: string, args: string[], cwd: string): string => {
  try {
    return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_ignore_scripts: "true" } });
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(`${err.message}\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  }
};

const TRAIN_TS = `
import * as F from "@ortrl/core";
import { orpoPlugin } from "ortrl-plugin-orpo";

const [data, outputDir, modelDir] = process.argv.slice(2) as [string, string, string];
const config = orpoPlugin.resolve({
  outputDir, dataFiles: [data], maxLength: 96, maxPromptLength: 48, beta: 0.1,
  learningRate: 3e-3, maxSteps: 10, perDeviceTrainBatchSize: 8, loggingSteps: 1, saveSteps: 0, seed: 1,
});
const model = await F.loadPretrained(modelDir, new F.Runtime({ intraOpNumThreads: 2 }));
const policy = F.CausalLmPolicy.fromPretrained(model, { r: 8, loraAlpha: 16, targetModules: "all-linear" }, config.seed);
const container = F.createTrainingContainer({ policy, args: config });
await container.load(orpoPlugin.module(config));
const losses: number[] = [];
container.get<F.TrainerEvents>(F.TrainerEvents).events$.pipe(F.ofType("step_end")).subscribe((e) => losses.push(e.metrics.loss!));
const result: F.TrainResult = await container.get<F.Trainer>(F.Trainer).run();
console.log(JSON.stringify({ steps: result.globalStep, losses }));
`;

it("a stranger installs @ortrl/core and a plugin from tarballs, type-checks against their declarations and trains", () => {
  const dir = mkdtempSync(join(tmpdir(), "ortrl-pack-"));
  const tarballs = join(dir, "tarballs");
  mkdirSync(tarballs);
  for (const pkg of ["packages/core", "examples/plugin-orpo"]) run("npm", ["pack", "--pack-destination", tarballs, "--silent"], join(REPO_ROOT, pkg));
  const [core, orpo] = ["ortrl-core-", "ortrl-plugin-orpo-"].map((p) => join(tarballs, readdirSync(tarballs).find((f) => f.startsWith(p))!));
  // The tarballs hold the built code and declarations, not the sources or tests.
  const listing = run("tar", ["-tzf", core!], dir);
  expect(listing).toMatch(/package\/dist\/index\.d\.ts/);
  expect(listing).not.toMatch(/package\/src\//);
  expect(listing).not.toMatch(/tsbuildinfo/);

  const app = join(dir, "app");
  mkdirSync(app);
  const rootPkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
  writeFileSync(join(app, "package.json"), JSON.stringify({
    name: "stranger-app", private: true, type: "module",
    dependencies: { "@ortrl/core": `file:${core}`, "ortrl-plugin-orpo": `file:${orpo}`, inversify: "7.11.0", rxjs: "7.8.2", "reflect-metadata": "0.2.2" },
    devDependencies: { "@types/node": rootPkg.devDependencies["@types/node"] },
  }));
  writeFileSync(join(app, ".npmrc"), "ignore-scripts=true\n");
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], app);

  writeFileSync(join(app, "train.ts"), TRAIN_TS);
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, types: ["node"], outDir: "build", skipLibCheck: false },
    files: ["train.ts"],
  }));
  run(process.execPath, [join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", "."], app);

  const pairs = readFileSync(join(SHARED, "data/dpo-en-demo/dpo_en_demo.json"), "utf8");
  const records = (JSON.parse(pairs) as { conversations: { value: string }[]; chosen: { value: string }; rejected: { value: string } }[])
    .slice(0, 32)
    .map((r) => JSON.stringify({ prompt: r.conversations.at(-1)!.value.slice(0, 200), chosen: r.chosen.value.slice(0, 200), rejected: r.rejected.value.slice(0, 200) }));
  writeFileSync(join(app, "pairs.jsonl"), records.join("\n") + "\n");
  const out = JSON.parse(run(process.execPath, ["build/train.js", "pairs.jsonl", join(app, "out"), join(SHARED, "models/stories260K-hf")], app).trim().split("\n").at(-1)!);
  expect(out.steps).toBe(10);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(out.losses.slice(-3))).toBeLessThan(mean(out.losses.slice(0, 3)));
}, 600_000);
