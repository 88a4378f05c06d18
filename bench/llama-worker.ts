/**
 * One Llama benchmark in its own process (so peak RSS belongs to it):
 *   tsx bench/llama-worker.ts MODE CONFIG [--seq 512] [--batch 1] [--steps 5] [--threads 2]
 * MODE: forward | generate | train (full fine-tuning: fwd+bwd+AdamW) | lora (r=16, all-linear) |
 *   dpo (LoRA r=16 DPO step on one pair: prompt P + two completions of P tokens, P = seq / 2) |
 *   sft-pair (LoRA r=16 SFT step on the same two sequences, prompt + completion each, batch 2) |
 *   grpo (LoRA r=16 GRPO step: 2 prompts of 64 tokens x 8 generations of 128 new tokens, beta 0.04; split into
 *   generation / reward / reference / policy update seconds, next to plain generate() on the same batch).
 * Prints one JSON line (tokens_per_second = median over measured steps).
 */
import * as F from "@ortrl/core";
import { BENCH_CONFIGS } from "./llama-configs.js";
import { median, peakRssBytes } from "./report.js";

const [mode, configName] = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const arch = BENCH_CONFIGS[configName ?? ""];
if (!arch || !mode) throw new Error(`usage: llama-worker MODE CONFIG; configs: ${Object.keys(BENCH_CONFIGS).join(", ")}`);
const seq = flag("seq", 512);
const batchSize = flag("batch", 1);
const steps = flag("steps", 5);
const threads = flag("threads", 2);

const rng = new F.Rng(1);
const params = new F.ParamStore(F.llamaParamSpecs(arch));
for (const n of params.names) {
  const v = params.get(n);
  if (n.endsWith("norm.weight")) v.fill(1);
  else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.02;
}
const runtime = new F.Runtime({
  intraOpNumThreads: threads,
  enableMemPattern: process.env.ORTRL_MEM_PATTERN === "1",
  enableCpuMemArena: process.env.ORTRL_ARENA !== "0",
});
const lm = new F.CausalLM(arch, params, runtime);
const randomRows = (b: number, t: number) => Array.from({ length: b }, () => Array.from({ length: t }, () => rng.int(3, arch.vocabSize)));
const times: number[] = [];
const t0All = performance.now();
let result: Record<string, unknown> = {};

if (mode === "forward") {
  const rows = randomRows(batchSize, seq);
  const batch = F.padBatch(rows, { labels: rows });
  for (let s = 0; s < steps + 1; s++) {
    const t0 = performance.now();
    await lm.lossSum(batch);
    if (s > 0) times.push((performance.now() - t0) / 1000);
  }
  result = { tokens_per_second: (batchSize * seq) / median(times) };
} else if (mode === "generate") {
  const B = 4;
  const prompts = randomRows(B, 32);
  const newTokens = 64;
  for (let s = 0; s < Math.max(2, Math.min(steps, 3)) + 1; s++) {
    const t0 = performance.now();
    const out = await F.generate(process.env.ORTRL_BENCH_FROZEN === "0" ? lm : lm.withFrozenBase(), prompts, { maxNewTokens: newTokens, temperature: 0 });
    if (out.completions.some((c) => c.length !== newTokens)) throw new Error("generation stopped early");
    if (s > 0) times.push((performance.now() - t0) / 1000);
  }
  result = { batch: B, prompt: 32, new_tokens: newTokens, tokens_per_second: (B * newTokens) / median(times) };
} else if (mode === "train" || mode === "lora") {
  let trainable: F.ParamStore = params;
  let adapter: F.LoraAdapter | undefined;
  if (mode === "lora") {
    const cfg = F.resolveLoraConfig({ r: 16, loraAlpha: 32, targetModules: "all-linear" });
    adapter = F.createLoraAdapter(arch, cfg, params, 1);
    trainable = adapter.params;
  }
  const tg = F.buildCausalLmTrainGraph(arch, trainable.names, adapter?.placement);
  const exe = await runtime.compile(tg.lg.graph, tg.outputs);
  const opt = new F.AdamW([{ params: trainable.names, lr: 1e-5, weightDecay: 0 }]);
  const rows = randomRows(batchSize, seq);
  const batch = F.padBatch(rows, { labels: rows });
  const feeds = { ...params.feeds(), ...(adapter ? adapter.params.feeds() : {}), ...F.batchFeeds(batch), num_items_in_batch: { data: Float32Array.of(batchSize * (seq - 1)), dims: [] } };
  const phases = { run: [] as number[], opt: [] as number[] };
  for (let s = 0; s < steps + 1; s++) {
    const t0 = performance.now();
    const out = await exe.run(feeds);
    const t1 = performance.now();
    const grads = new Map(trainable.names.map((n) => [n, out[`grad.${n}`]!.data as Float32Array]));
    opt.step(trainable, grads);
    const t2 = performance.now();
    if (s > 0) {
      times.push((t2 - t0) / 1000);
      phases.run.push((t1 - t0) / 1000);
      phases.opt.push((t2 - t1) / 1000);
    }
  }
  result = {
    tokens_per_second: (batchSize * seq) / median(times),
    graph_seconds_median: median(phases.run),
    optimizer_seconds_median: median(phases.opt),
    trainable_params: trainable.numel,
  };
} else if (mode === "dpo" || mode === "sft-pair") {
  // One preference pair: prompt 256 + chosen 256 and prompt 256 + rejected 256 at seq 512.
  const P = seq / 2;
  const [prompt, chosen, rejected] = randomRows(3, P) as [number[], number[], number[]];
  const cfg = F.resolveLoraConfig({ r: 16, loraAlpha: 32, targetModules: "all-linear" });
  const adapter = F.createLoraAdapter(arch, cfg, params, 1);
  const policy = new F.CausalLmPolicy(lm, arch as F.LlamaConfig, new F.ByteTokenizer(), adapter, null);
  const opt = new F.AdamW([{ params: policy.trainable.names, lr: 1e-5, weightDecay: 0 }]);
  const rngStep = new F.Rng(5);
  let step: () => Promise<F.MicroStepResult>;
  if (mode === "dpo") {
    const { DpoObjective, DPO_DEFAULTS } = await import("@ortrl/dpo");
    const obj = new DpoObjective(policy, F.createReferenceModel(policy), { ...DPO_DEFAULTS, outputDir: "/nonexistent" }, 0);
    const pair = { promptIds: prompt, chosenIds: chosen, rejectedIds: rejected };
    step = () => obj.microStep([pair], 1, rngStep);
  } else {
    const obj = new F.CausalLmObjective(policy, 0);
    const rows = [chosen, rejected].map((c) => ({ inputIds: [...prompt, ...c], labels: [...prompt.map(() => -100), ...c] }));
    const items = rows.reduce((n, r) => n + F.countLabelTokens(r), 0);
    step = () => obj.microStep(rows, items, rngStep);
  }
  for (let s = 0; s < steps + 1; s++) {
    const t0 = performance.now();
    const r = await step();
    opt.step(policy.trainable, r.grads);
    if (s > 0) times.push((performance.now() - t0) / 1000);
  }
  result = { prompt_tokens: P, completion_tokens: P, sequences: 2, tokens_per_second: (2 * seq) / median(times), trainable_params: adapter.params.numel };
} else if (mode === "grpo") {
  const { GrpoObjective, GRPO_DEFAULTS } = await import("@ortrl/grpo");
  const cfg = F.resolveLoraConfig({ r: 16, loraAlpha: 32, targetModules: "all-linear" });
  const adapter = F.createLoraAdapter(arch, cfg, params, 1);
  // Random weights emit ids beyond a byte vocabulary: decode them as numbers.
  class IdTokenizer extends F.ByteTokenizer {
    override decode(ids: readonly number[]): string {
      return ids.join(" ");
    }
  }
  const policy = new F.CausalLmPolicy(lm, arch as F.LlamaConfig, new IdTokenizer(), adapter, null);
  const opt = new F.AdamW([{ params: policy.trainable.names, lr: 1e-6, weightDecay: 0 }]);
  const G = 8;
  const newTokens = 128;
  const t = { generation: 0, reward: 0, reference: 0 };
  const timed = <A extends unknown[], R>(key: keyof typeof t, f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    const t0 = performance.now();
    const r = await f(...a);
    t[key] += (performance.now() - t0) / 1000;
    return r;
  };
  const inner = new F.PolicySampler(policy);
  const reference = F.createReferenceModel(policy);
  const config = { ...GRPO_DEFAULTS, outputDir: "/tmp/ortrl-bench-grpo", numGenerations: G, perDeviceTrainBatchSize: 2 * G, maxCompletionLength: newTokens, beta: 0.04, loggingSteps: 1000, rewardFuncs: [] };
  const obj = new GrpoObjective({
    policy,
    sampler: { generate: timed("generation", (p: readonly (readonly number[])[], o: F.GenerateOptions) => inner.generate(p, { ...o, eosTokenId: -1 })) },
    reference: { description: "timed", scoreLogps: timed("reference", (sb: F.ScoreBatch) => reference.scoreLogps(sb)) },
    rewards: [{ name: "random", fn: timed("reward", async (a: F.RewardArgs) => a.completions.map((_, i) => (i * 7919) % 3)) }],
    config,
    padId: 0,
  });
  const prompts = randomRows(2, 64).map((ids) => ({ promptIds: ids, prompt: "p", columns: {}, conversational: false }));
  // Plain generate() on the same batch (prompts repeated G times), for the generation speed target.
  const batch = prompts.flatMap((p) => Array.from({ length: G }, () => p.promptIds));
  const plainGenerate = async () => {
    const g0 = performance.now();
    await F.generate(lm.withAdapter(adapter).withFrozenBase(adapter.params.names), batch, { maxNewTokens: newTokens, temperature: 1, seed: 3, eosTokenId: -1 });
    return (performance.now() - g0) / 1000;
  };
  const plainBefore = await plainGenerate();
  const phases = { generation: [] as number[], reward: [] as number[], reference: [] as number[], rollout: [] as number[], update: [] as number[] };
  for (let s = 0; s < steps + 1; s++) {
    Object.assign(t, { generation: 0, reward: 0, reference: 0 });
    const t0 = performance.now();
    const prep = await obj.prepareStep(prompts, { step: 2, epoch: 1, rng: new F.Rng(s) });
    const t1 = performance.now();
    const items = prep.rows.reduce((n, r) => n + obj.countItems(r), 0);
    const r = await obj.microStep(prep.rows, items, new F.Rng(s));
    opt.step(policy.trainable, r.grads);
    const t2 = performance.now();
    if (s > 0) {
      times.push((t2 - t0) / 1000);
      phases.generation.push(t.generation);
      phases.reward.push(t.reward);
      phases.reference.push(t.reference);
      phases.rollout.push((t1 - t0) / 1000);
      phases.update.push((t2 - t1) / 1000);
    }
  }
  const plain = Math.min(plainBefore, await plainGenerate());
  result = {
    prompts: 2,
    num_generations: G,
    new_tokens: newTokens,
    generation_seconds: median(phases.generation),
    reward_seconds: median(phases.reward),
    reference_seconds: median(phases.reference),
    rollout_other_seconds: median(phases.rollout) - median(phases.generation) - median(phases.reward) - median(phases.reference),
    policy_update_seconds: median(phases.update),
    generation_tokens_per_second: (2 * G * newTokens) / median(phases.generation),
    plain_generate_tokens_per_second: (2 * G * newTokens) / plain,
    plain_generate_before_tokens_per_second: (2 * G * newTokens) / plainBefore,
    tokens_per_second: (2 * G * newTokens) / median(times),
  };
} else throw new Error(`unknown mode ${mode}`);

console.log(
  JSON.stringify({
    impl: "ortrl",
    mode,
    config: configName,
    seq,
    batch: batchSize,
    threads,
    ...result,
    seconds_per_step_median: median(times),
    peak_rss_bytes: peakRssBytes(),
    wall_seconds: (performance.now() - t0All) / 1000,
  }),
);
