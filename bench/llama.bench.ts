/**
 * Llama benchmarks, ortrl next to the PyTorch peer on the same CPU, interleaved (ortrl, pytorch,
 * ortrl, ...) so both see the same machine conditions; each run is its own process (peak RSS is
 * per process). Records per-run lines and a median/ratio summary per (config, mode).
 *   ORTRL_BENCH_CONFIGS=smollm2-135m,small  ORTRL_BENCH_MODES=train,lora,forward,generate  ORTRL_BENCH_REPEATS=3
 * PyTorch runs when /usr/bin/python3 imports torch (apt-get install python3-torch libopenblas0-openmp).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median, record } from "./report.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const PY = "/usr/bin/python3";

function hasTorch(): boolean {
  const r = spawnSync(PY, ["-c", "import torch"], { encoding: "utf8" });
  return r.status === 0;
}

function runJson(cmd: string, args: string[]): Record<string, number | string> | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: `${here}/..`, timeout: 1_800_000, env: process.env });
  const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (r.status !== 0 || !line) {
    console.error(`benchmark failed: ${cmd} ${args.join(" ")}\n${r.stderr.slice(-2000)}`);
    return null;
  }
  return JSON.parse(line);
}

export async function benchLlama(threads: number): Promise<void> {
  const configs = (process.env.ORTRL_BENCH_CONFIGS ?? "smollm2-135m,small").split(",");
  const modes = (process.env.ORTRL_BENCH_MODES ?? "train,lora,forward,generate").split(",");
  const repeats = Number(process.env.ORTRL_BENCH_REPEATS ?? 3);
  const torch = hasTorch();
  if (!torch) console.error("PyTorch peer not installed (/usr/bin/python3 cannot import torch): ortrl only");
  for (const config of configs) {
    for (const mode of modes) {
      const steps = config === "small" ? 10 : 3;
      const ours: Record<string, number | string>[] = [];
      const theirs: Record<string, number | string>[] = [];
      for (let r = 0; r < repeats; r++) {
        const o = runJson(process.execPath, ["--import", "tsx", "bench/llama-worker.ts", mode, config, "--steps", String(steps), "--threads", String(threads)]);
        if (o) ours.push(o);
        if (torch) {
          const p = runJson(PY, [`${here}/pytorch/llama_bench.py`, "--mode", mode, "--config", config, "--threads", String(threads), "--steps", String(steps), "--warmup", "1"]);
          if (p) theirs.push(p);
        }
      }
      // Generation: both sides count 4 x 64 new tokens over prefill + decode.
      const tps = (x: Record<string, number | string>) => Number(mode === "generate" && x.impl === "pytorch" ? x.tokens_per_second_incl_prefill : x.tokens_per_second);
      const summary: Record<string, unknown> = {
        bench: `llama.${mode}`,
        config,
        threads,
        repeats,
        ortrl_tokens_per_second: median(ours.map(tps)),
        ortrl_peak_rss_bytes: median(ours.map((x) => Number(x.peak_rss_bytes))),
        ortrl_runs: ours.map(tps),
      };
      if (theirs.length) {
        summary.pytorch_tokens_per_second = median(theirs.map(tps));
        summary.pytorch_peak_rss_bytes = median(theirs.map((x) => Number(x.peak_rss_bytes)));
        summary.pytorch_runs = theirs.map(tps);
        summary.speedup_vs_pytorch = (summary.ortrl_tokens_per_second as number) / (summary.pytorch_tokens_per_second as number);
        summary.torch = theirs[0]!.torch;
      }
      record(summary as { bench: string });
    }
  }
}
