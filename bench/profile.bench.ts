/**
 * `npm run bench -- profile`: onnxruntime's per-op profile of one SmolLM2-135M step (train, lora, forward), each
 * in its own process (bench/profile.ts), recorded as one line per mode.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { record } from "./report.js";

const here = fileURLToPath(new URL(".", import.meta.url));

export async function benchProfile(threads: number): Promise<void> {
  for (const mode of ["train", "lora", "forward"]) {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/profile.ts", mode, "--threads", String(threads)], { encoding: "utf8", cwd: `${here}/..` });
    const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
    if (r.status !== 0 || !line) {
      console.error(`profile ${mode} failed:\n${r.stderr.slice(-2000)}`);
      continue;
    }
    record(JSON.parse(line));
  }
}
