/**
 * One GRPO step at the SmolLM2-135M shape (LoRA r 16 all-linear; 2 prompts of 64 tokens x 8
 * generations of 128 new tokens; beta 0.04), split into generation / reward / reference / policy
 * update seconds, next to plain generate() on the same batch in the same process, alternating with the
 * PyTorch peer's GRPO step (bench/pytorch/rl_bench.py) when /usr/bin/python3 has torch. Each repeat is its
 * own process.  ORTRL_BENCH_CONFIGS=smollm2-135m  ORTRL_BENCH_REPEATS=3
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { median, record } from "./report.js";
import { runPeer } from "./dpo.bench.js";

const here = fileURLToPath(new URL(".", import.meta.url));

export async function benchGrpo(threads: number): Promise<void> {
  const configs = (process.env.ORTRL_BENCH_CONFIGS ?? "smollm2-135m").split(",");
  const repeats = Number(process.env.ORTRL_BENCH_REPEATS ?? 3);
  for (const config of configs) {
    const runs: Record<string, number>[] = [];
    const peer: Record<string, number>[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = runPeer("grpo", config, 2, threads);
      if (t) peer.push(t);
      const p = spawnSync(process.execPath, ["--import", "tsx", "bench/llama-worker.ts", "grpo", config, "--steps", "2", "--threads", String(threads)], { encoding: "utf8", cwd: `${here}/..`, timeout: 3_600_000 });
      const line = p.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
      if (p.status !== 0 || !line) console.error(`benchmark failed: grpo ${config}\n${p.stderr.slice(-2000)}`);
      else runs.push(JSON.parse(line));
    }
    const m = (k: string) => median(runs.map((x) => x[k]!));
    record({
      bench: "grpo.step",
      config,
      threads,
      repeats,
      shape: "LoRA r16 all-linear; 2 prompts x 64 tokens, 8 generations x 128 new tokens, beta 0.04",
      seconds_per_step: m("seconds_per_step_median"),
      generation_seconds: m("generation_seconds"),
      reward_seconds: m("reward_seconds"),
      reference_seconds: m("reference_seconds"),
      policy_update_seconds: m("policy_update_seconds"),
      generation_tokens_per_second: m("generation_tokens_per_second"),
      plain_generate_tokens_per_second: m("plain_generate_tokens_per_second"),
      peak_rss_bytes: m("peak_rss_bytes"),
      runs,
      ...(peer.length
        ? {
            pytorch_seconds_per_step: median(peer.map((x) => x.seconds_per_step_median!)),
            pytorch_generation_seconds: median(peer.map((x) => x.generation_seconds!)),
            pytorch_reference_seconds: median(peer.map((x) => x.reference_seconds!)),
            pytorch_policy_update_seconds: median(peer.map((x) => x.policy_update_seconds!)),
            pytorch_peak_rss_bytes: median(peer.map((x) => x.peak_rss_bytes!)),
            speedup_vs_pytorch: median(peer.map((x) => x.seconds_per_step_median!)) / m("seconds_per_step_median"),
            pytorch_runs: peer,
          }
        : {}),
    });
  }
}
