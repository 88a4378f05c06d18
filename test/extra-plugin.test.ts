/**
 * A third-party method plugin written against the public API of @ortrl/core only: causal-LM training
 * with PaLM's auxiliary z-loss (Chowdhery et al. 2022, §5: "z_loss = 1e-4 * log^2 Z" per token, which
 * keeps the softmax normaliser close to 1):
 *
 *   loss = (sum over label tokens of [CE_t + zLossCoef * logsumexp(logits_t)^2]) / label tokens
 *
 * The plugin brings its own config, TrainDataset (tinyshakespeare packed into blocks with the
 * stories260K tokenizer), EvalDataset and Objective (a training graph built from the public IR), and is
 * trained by the core DefaultTrainer through createTrainingContainer + container.load(plugin.module()).
 */
import { readFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContainerModule } from "inversify";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { SHARED } from "./helpers/cli.js";

const STORIES = join(SHARED, "models/stories260K-hf");
const SHAKESPEARE = join(SHARED, "data/tinyshakespeare/input.txt");

// ------------------------------------------------------------------------------------------------
// The plugin (what a third-party package would export)
// ------------------------------------------------------------------------------------------------

/** The plugin's config: every training argument plus its own fields, each declared once. */
const Z_FIELDS = {
  ...F.TRAINING_FIELDS,
  textFile: F.textField(SHAKESPEARE, "raw text file; training text is chars [trainFrom, trainTo), held-out text [trainTo, evalTo)", { nonEmpty: "must be a file path" }),
  trainFrom: F.intField(0, "first character of the training text", { min: 0 }),
  trainTo: F.intField(12_000, "end of the training text (exclusive)", { min: 1 }),
  evalTo: F.intField(14_000, "end of the held-out text (exclusive)", { min: 1 }),
  blockSize: F.intField(64, "tokens per packed block", { min: 2 }),
  zLossCoef: F.numberField(1e-4, "weight of the z-loss term (PaLM: 1e-4)", { min: 0 }),
};
const Z_SCHEMA = new F.ConfigSchema(Z_FIELDS, [(c) => (c.trainFrom < c.trainTo && c.trainTo < c.evalTo ? null : ["trainTo", "must lie between trainFrom and evalTo"])]);
type ZLossConfig = F.ConfigOf<typeof Z_FIELDS>;
const Z_DEFAULTS = Z_SCHEMA.defaults;

/** BOS + the text's tokens (tokenized paragraph by paragraph), cut into full blocks; labels = inputs. */
function packedBlocks(tok: F.TokenizerLike, text: string, blockSize: number): F.TokenizedExample[] {
  const ids: number[] = tok.bosTokenId !== null ? [tok.bosTokenId] : [];
  for (const part of text.split(/(?<=\n\n)/)) if (part) ids.push(...tok.encode(part, { addSpecialTokens: false }));
  const out: F.TokenizedExample[] = [];
  for (let i = 0; i + blockSize <= ids.length; i += blockSize) {
    const block = ids.slice(i, i + blockSize);
    out.push({ inputIds: block, labels: [...block] });
  }
  if (out.length === 0) throw new Error(`z-loss: no block of ${blockSize} tokens in the text`);
  return out;
}

/** The z-loss training graph: forward, CE and z terms over the shifted labels, gradients. */
interface ZLossGraph {
  lg: F.LlamaGraph;
  outputs: Record<string, F.Value>;
}

function buildZLossGraph(policy: F.Policy, coef: number): ZLossGraph {
  const lg = new F.LlamaGraph(new F.Graph(), policy.config);
  const g = lg.graph;
  const ids = g.input("input_ids", "int64", ["batch", "seq"]);
  const mask = g.input("attention_mask", "int64", ["batch", "seq"]);
  const pos = g.input("position_ids", "int64", ["batch", "seq"]);
  const labels = g.input("labels", "int64", ["batch", "seq"]);
  const numItems = g.input("num_items_in_batch", "float32", []);
  const { hidden } = lg.decoder(ids, pos, mask);
  const logits = lg.logits(F.LlamaGraph.shiftHidden(hidden)); // [B, T-1, V]: position t predicts labels[t+1]
  const ce = F.causalLmLoss(logits, labels, true);
  // logsumexp over the vocabulary, stabilised by the (constant) row maximum.
  const m = F.detach(F.reduceMax(logits, [2], true));
  const lse = F.add(F.squeeze(m, [2]), F.log(F.reduceSum(F.exp(F.sub(logits, m)), [2])));
  const zSum = F.reduceSum(F.mul(F.square(lse), ce.mask));
  const total = F.add(ce.lossSum, F.mul(zSum, coef));
  const names = policy.trainable.names;
  const grads = F.grad(F.div(total, numItems), names.map((n) => lg.weights.get(n)!));
  const outputs: Record<string, F.Value> = { loss_sum: total, count: ce.count, ce_sum: ce.lossSum, z_sum: zSum };
  names.forEach((n, i) => (outputs[`grad.${n}`] = grads[i]!));
  return { lg, outputs };
}

class ZLossObjective implements F.Objective {
  private graph: ZLossGraph | null = null;
  private exe: Promise<F.Executable> | null = null;

  constructor(
    private readonly policy: F.Policy,
    private readonly padId: number,
    readonly coef: number,
  ) {}

  countItems(example: F.TokenizedExample): number {
    return F.countLabelTokens(example);
  }

  /** Runs the training graph: every output (loss_sum, count, ce_sum, z_sum, grad.*). */
  async run(examples: readonly F.TokenizedExample[], numItemsInBatch: number): Promise<Record<string, F.TensorData>> {
    if (!this.exe) {
      this.graph = buildZLossGraph(this.policy, this.coef);
      this.exe = this.policy.lm.runtime.compile(this.graph.lg.graph, this.graph.outputs);
    }
    const exe = await this.exe;
    return exe.run({
      ...this.policy.lm.weightFeeds(this.graph!.lg),
      ...F.batchFeeds(F.collate(examples, this.padId)),
      num_items_in_batch: { data: Float32Array.of(numItemsInBatch), dims: [] },
    });
  }

  async microStep(examples: readonly F.TokenizedExample[], numItemsInBatch: number): Promise<F.MicroStepResult> {
    const out = await this.run(examples, numItemsInBatch);
    const grads = new Map(this.policy.trainable.names.map((n) => [n, out[`grad.${n}`]!.data as Float32Array]));
    return { lossSum: scalar(out.loss_sum!), count: scalar(out.count!), grads };
  }

  /** Held-out loss is plain cross-entropy (so eval_loss / perplexity stay comparable). */
  evalStep(examples: readonly F.TokenizedExample[]): Promise<F.EvalStepResult> {
    return this.policy.lm.lossSum(F.collate(examples, this.padId));
  }
}

const scalar = (t: F.TensorData) => (t.data as Float32Array)[0]!;

const zLossPlugin: F.MethodPlugin<ZLossConfig> = {
  name: "z-loss",
  schema: Z_SCHEMA,
  defaults: Z_DEFAULTS,
  resolve: (partial, source = "z-loss config") => Z_SCHEMA.resolve(partial, source),
  module(config) {
    return new ContainerModule(({ bind }) => {
      const text = readFileSync(config.textFile, "utf8");
      bind<F.TrainDataset>(F.TrainDataset)
        .toResolvedValue((p: F.Policy) => ({ examples: packedBlocks(p.tokenizer, text.slice(config.trainFrom, config.trainTo), config.blockSize) }), [F.Policy])
        .inSingletonScope();
      bind<F.EvalDataset>(F.EvalDataset)
        .toResolvedValue((p: F.Policy) => ({ examples: packedBlocks(p.tokenizer, text.slice(config.trainTo, config.evalTo), config.blockSize) }), [F.Policy])
        .inSingletonScope();
      bind<F.Objective>(F.Objective)
        .toResolvedValue((p: F.Policy) => new ZLossObjective(p, p.tokenizer.padTokenId ?? p.tokenizer.eosTokenId ?? 0, config.zLossCoef), [F.Policy])
        .inSingletonScope();
    });
  },
};

// ------------------------------------------------------------------------------------------------
// Independent references: CE from core's own forward graph, z from logits in float64 JS
// ------------------------------------------------------------------------------------------------

/** Sum over label tokens of logsumexp(logits)^2, from CausalLM.logits (float64 in JS). */
async function zSumReference(lm: F.CausalLM, batch: F.TokenBatch): Promise<number> {
  const logits = await lm.logits(batch);
  const { batchSize: B, seqLen: T } = batch;
  const V = logits.length / (B * T);
  let z = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      if (batch.labels![b * T + t + 1] === -100n) continue;
      const row = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let s = 0;
      for (const x of row) s += Math.exp(x - max);
      const lse = max + Math.log(s);
      z += lse * lse;
    }
  }
  return z;
}

interface Setup {
  config: ZLossConfig;
  container: ReturnType<typeof F.createTrainingContainer>;
  policy: F.CausalLmPolicy;
  events: F.TrainerEvent[];
}

async function setup(overrides: Partial<ZLossConfig> = {}): Promise<Setup> {
  const config = zLossPlugin.resolve({
    outputDir: mkdtempSync(join(tmpdir(), "ortrl-zloss-")),
    learningRate: 2e-3,
    maxSteps: 8,
    perDeviceTrainBatchSize: 4,
    loggingSteps: 2,
    saveSteps: 0,
    ...overrides,
  });
  const model = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 2 }));
  const policy = F.CausalLmPolicy.fromPretrained(model, null, config.seed);
  const container = F.createTrainingContainer({ policy, args: config });
  await container.load(zLossPlugin.module(config));
  const events: F.TrainerEvent[] = [];
  container.get<F.TrainerEvents>(F.TrainerEvents).events$.subscribe((e) => events.push(e));
  return { config, container, policy, events };
}

// ------------------------------------------------------------------------------------------------

describe("a z-loss plugin built on the public API", () => {
  let s: Setup;
  let objective: ZLossObjective;
  let batch: F.TokenizedExample[];
  let padId: number;
  beforeAll(async () => {
    s = await setup();
    objective = s.container.get<F.Objective>(F.Objective) as ZLossObjective;
    batch = s.container.get<F.TrainDataset>(F.TrainDataset).examples.slice(0, 4);
    padId = s.policy.tokenizer.eosTokenId!;
  });

  it("resolves its config with the core validation and its own", () => {
    expect(s.config.zLossCoef).toBe(1e-4);
    expect(s.config.adamBeta2).toBe(0.999);
    expect(() => zLossPlugin.resolve({ outputDir: "x", zLossCoef: -1 })).toThrow(/z-loss config: zLossCoef must be >= 0/);
    expect(() => zLossPlugin.resolve({ outputDir: "x", perDeviceTrainBatchSize: 0 })).toThrow(/z-loss config: perDeviceTrainBatchSize/);
    const train = s.container.get<F.TrainDataset>(F.TrainDataset).examples;
    expect(train.length).toBeGreaterThan(20);
    expect(train.every((e) => e.inputIds.length === 64)).toBe(true);
  });

  it("its loss is cross-entropy plus 1e-4 * sum of logsumexp^2 over label tokens", async () => {
    const collated = F.collate(batch, padId);
    const ce = await s.policy.lm.lossSum(collated); // core's forward graph, not the plugin's
    const z = await zSumReference(s.policy.lm, collated);
    const r = await objective.microStep(batch, ce.count);
    expect(r.count).toBe(ce.count);
    expect(r.count).toBe(4 * 63);
    const want = ce.lossSum + 1e-4 * z;
    expect(Math.abs(r.lossSum - want) / want).toBeLessThan(2e-6);
    // The z term is far above that tolerance: a plugin that dropped it would fail the line above.
    expect((1e-4 * z) / want).toBeGreaterThan(1e-4);
  });

  it("the z term is in the gradient: d(loss)/d(theta) minus the CE gradient is the z term's derivative", async () => {
    const N = 4 * 63;
    const coef = 1e-2; // a larger weight than PaLM's, so a float32 finite difference resolves it
    const zObj = new ZLossObjective(s.policy, padId, coef);
    const ceObj = new F.CausalLmObjective(s.policy, padId);
    const rng = new F.Rng(1);
    const gz = (await zObj.microStep(batch, N)).grads;
    const gce = (await ceObj.microStep(batch, N, rng)).grads;
    // With coefficient 0 the plugin's graph has exactly core's CE gradient.
    const g0 = (await new ZLossObjective(s.policy, padId, 0).microStep(batch, N)).grads;
    for (const [n, g] of gce) {
      const h = g0.get(n)!;
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i]! - h[i]!));
      expect(worst, n).toBeLessThan(1e-5);
    }
    // Direction u = (g_z - g_ce) / |g_z - g_ce|; the z term's directional derivative along u must be |g_z - g_ce|.
    const diff = new Map<string, Float64Array>();
    let norm2 = 0;
    for (const [n, g] of gz) {
      const d = Float64Array.from(g, (x, i) => x - gce.get(n)![i]!);
      for (const x of d) norm2 += x * x;
      diff.set(n, d);
    }
    const norm = Math.sqrt(norm2);
    expect(norm).toBeGreaterThan(1e-3);
    const params = s.policy.trainable;
    const saved = new Map(params.names.map((n) => [n, Float32Array.from(params.get(n))]));
    const zAt = async (eps: number) => {
      for (const [n, d] of diff) {
        const p = params.get(n);
        const p0 = saved.get(n)!;
        for (let i = 0; i < p.length; i++) p[i] = p0[i]! + (eps * d[i]!) / norm;
      }
      return (coef / N) * (await zSumReference(s.policy.lm, F.collate(batch, padId)));
    };
    const eps = 1e-2;
    const directional = ((await zAt(eps)) - (await zAt(-eps))) / (2 * eps);
    for (const [n, p0] of saved) params.get(n).set(p0);
    expect(Math.abs(directional - norm) / norm).toBeLessThan(0.02);
  });

  it("trains through the DefaultTrainer: the logged loss includes the z term, and it falls", async () => {
    const r = await setup();
    const args = r.config;
    const train = r.container.get<F.TrainDataset>(F.TrainDataset).examples;
    // The first optimizer step's batch, as the trainer draws it, scored before any update.
    const first = F.microBatches(F.epochOrder(train.length, args.seed, 0, args.shuffle), args.perDeviceTrainBatchSize)[0]!.map((i) => train[i]!);
    const collated = F.collate(first, padId);
    const ce = await r.policy.lm.lossSum(collated);
    const z = await zSumReference(r.policy.lm, collated);

    const result = await r.container.get<F.DefaultTrainer>(F.Trainer).run();
    expect(result.globalStep).toBe(8);
    const losses = r.events.flatMap((e) => (e.type === "step_end" ? [e.metrics.loss!] : []));
    expect(losses).toHaveLength(8);
    const zMean = (1e-4 * z) / ce.count;
    expect(Math.abs(losses[0]! - (ce.lossSum / ce.count + zMean))).toBeLessThan(zMean / 20);
    expect(Math.abs(losses[0]! - ce.lossSum / ce.count)).toBeGreaterThan(zMean / 2);
    // Training makes progress on the combined objective and on held-out cross-entropy.
    expect((losses[6]! + losses[7]!) / 2).toBeLessThan(losses[0]! - 0.3);
    const evalLoss = result.evalMetrics!.eval_loss!;
    const evalData = r.container.get<F.EvalDataset>(F.EvalDataset).examples;
    let before = { lossSum: 0, count: 0 };
    const fresh = await F.loadPretrained(STORIES, new F.Runtime({ intraOpNumThreads: 2 }));
    for (const e of evalData) {
      const x = await fresh.lm.lossSum(F.collate([e], padId));
      before = { lossSum: before.lossSum + x.lossSum, count: before.count + x.count };
    }
    expect(evalLoss).toBeLessThan(before.lossSum / before.count);
    const logs = result.logHistory.filter((h) => "loss" in h);
    expect(logs.map((h) => h.step)).toEqual([2, 4, 6, 8]);
    expect(logs[0]!.loss).toBeCloseTo((losses[0]! + losses[1]!) / 2, 10);
  });
});
