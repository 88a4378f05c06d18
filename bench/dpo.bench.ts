/**
 * The cost of a DPO step next to an SFT step on the same two sequences (issue 8's target: DPO at most
 * 1.4x SFT). LoRA r 16 all-linear at the SmolLM2-135M shape: one pair, prompt 256 + chosen 256 and
 * prompt 256 + rejected 256 (DPO: policy forward/backward over the shared-prompt row + a reference
 * forward); SFT: the two 512-token sequences as a batch of 2, loss on the completions. Each run is its
 * own process; dpo, the PyTorch peer's DPO step (bench/pytorch/rl_bench.py) and sft-pair alternate, repeated.
 *   ORTRL_BENCH_CONFIGS=smollm2-135m  ORTRL_BENCH_REPEATS=3
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median, record } from "./report.js";

const here = fileURLToPath(new URL(".", import.meta.url));

function runWorker(mode: string, config: string, steps: number, threads: number): Record<string, number> | null {
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/llama-worker.ts", mode, config, "--steps", String(steps), "--threads", String(threads)], {
    encoding: "utf8",
    cwd: `${here}/..`,
    timeout: 1_800_000,
  });
  const line = r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (r.status !== 0 || !line) {
    console.error(`benchmark failed: ${mode} ${config}\n${r.stderr.slice(-2000)}`);
    return null;
  }
  return JSON.parse(line);
}

/** The PyTorch peer's step (bench/pytorch/rl_bench.py), or null when /usr/bin/python3 has no torch. */
export function runPeer(mode: "dpo" | "grpo", config: string, steps: number, threads: number): Record<string, number> | null {
  const r = spawnSync("/usr/bin/python3", [`${here}/pytorch/rl_bench.py`, "--mode", mode, "--config", config, "--steps", String(steps), "--threads", String(threads)], { encoding: "utf8", timeout: 3_600_000 });
  const line = r.stdout?.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
  if (r.status !== 0 || !line) {
    console.error(`PyTorch peer unavailable or failed (${mode} ${config}): ${(r.stderr ?? "").slice(-500)}`);
    return null;
  }
  return JSON.parse(line);
}

export async function benchDpo(threads: number): Promise<void> {
  const configs = (process.env.ORTRL_BENCH_CONFIGS ?? "smollm2-135m").split(",");
  const repeats = Number(process.env.ORTRL_BENCH_REPEATS ?? 3);
  for (const config of configs) {
    const steps = config === "small" ? 10 : 3;
    const dpo: number[] = [];
    const sft: number[] = [];
    const rss: Record<string, number[]> = { dpo: [], sft: [], torch: [] };
    const torch: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const d = runWorker("dpo", config, steps, threads);
      if (d) (dpo.push(d.seconds_per_step_median!), rss.dpo!.push(d.peak_rss_bytes!));
      const t = runPeer("dpo", config, steps, threads);
      if (t) (torch.push(t.seconds_per_step_median!), rss.torch!.push(t.peak_rss_bytes!));
      const s = runWorker("sft-pair", config, steps, threads);
      if (s) (sft.push(s.seconds_per_step_median!), rss.sft!.push(s.peak_rss_bytes!));
    }
    record({
      bench: "dpo.step_vs_sft",
      config,
      threads,
      repeats,
      shape: "LoRA r16 all-linear; prompt 256 + 2 completions of 256 (one pair) vs SFT batch 2 x 512",
      dpo_seconds_per_step: median(dpo),
      sft_seconds_per_step: median(sft),
      dpo_over_sft: median(dpo) / median(sft),
      dpo_runs: dpo,
      sft_runs: sft,
      dpo_peak_rss_bytes: median(rss.dpo!),
      sft_peak_rss_bytes: median(rss.sft!),
      ...(torch.length
        ? { pytorch_dpo_seconds_per_step: median(torch), pytorch_dpo_runs: torch, pytorch_dpo_peak_rss_bytes: median(rss.torch!), dpo_speedup_vs_pytorch: median(torch) / median(dpo) }
        : {}),
    });
  }
}
