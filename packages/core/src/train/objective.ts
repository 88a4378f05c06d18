/**
 * The causal-LM objective (CPT and SFT): mean token cross-entropy over label tokens, normalised by
 * the label tokens of the whole optimizer step (see causal-lm-graph.ts). LoRA dropout masks are drawn
 * in JS from the step's RNG and fed as inputs, so resumed runs draw the same masks.
 */
import type { Graph, Value } from "../ir/graph.js";
import type { LlamaGraph } from "../model/llama.js";
import type { Executable, Runtime, TensorData } from "../runtime/runtime.js";
import { batchFeeds } from "../model/batch.js";
import type { Rng } from "../util/rng.js";
import { type CausalLmTrainGraph, buildCausalLmTrainGraph } from "./causal-lm-graph.js";
import { type TokenizedExample, collate, countLabelTokens } from "./examples.js";
import type { EvalStepResult, MicroStepResult, Objective } from "./contract.js";
import type { Policy } from "./seams.js";

export class CausalLmObjective implements Objective<TokenizedExample> {
  /** eval logs perplexity = exp(eval_loss) and eval_tokens. */
  readonly tokenNll = true;
  private graph: CausalLmTrainGraph | null = null;
  private exe: Promise<Executable> | null = null;

  constructor(
    private readonly policy: Policy,
    /** Token id written into padding. */
    readonly padId: number,
  ) {}

  /** Label tokens (labels[1:] other than -100). */
  countItems(example: TokenizedExample): number {
    return countLabelTokens(example);
  }

  private compiled(): Promise<Executable> {
    if (!this.exe) {
      const p = this.policy;
      this.graph = buildCausalLmTrainGraph(p.config, p.trainable.names, p.adapter?.placement);
      this.exe = p.lm.runtime.compile(this.graph.lg.graph, this.graph.outputs);
    }
    return this.exe;
  }

  async microStep(examples: readonly TokenizedExample[], numItemsInBatch: number, rng: Rng): Promise<MicroStepResult> {
    const exe = await this.compiled();
    const tg = this.graph!;
    const batch = collate(examples, this.padId);
    const feeds: Record<string, TensorData> = {
      ...this.policy.lm.weightFeeds(tg.lg),
      ...batchFeeds(batch),
      num_items_in_batch: { data: Float32Array.of(numItemsInBatch), dims: [] },
    };
    Object.assign(feeds, dropoutFeeds(this.policy, tg.lg, batch.batchSize, batch.seqLen, rng));
    const out = await exe.run(feeds);
    return {
      lossSum: (out.loss_sum!.data as Float32Array)[0]!,
      count: (out.count!.data as Float32Array)[0]!,
      grads: trainableGrads(this.policy.trainable.names, out),
      numTokens: examples.reduce((n, e) => n + e.inputIds.length, 0),
    };
  }

  evalStep(examples: readonly TokenizedExample[]): Promise<EvalStepResult> {
    return this.policy.lm.lossSum(collate(examples, this.padId));
  }
}

/** The LoRA dropout masks a training graph reads (none without LoRA dropout), drawn from `rng`. */
export function dropoutFeeds(policy: Policy, lg: LlamaGraph, B: number, T: number, rng: Rng): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  const p = policy.adapter?.config.loraDropout ?? 0;
  for (const [name, v] of lg.dropoutMasks) feeds[name] = dropoutMask(v, B, T, p, rng);
  return feeds;
}

/** Inverted-dropout mask [B, T, in]: 0 with probability p, else 1/(1-p). */
export function dropoutMask(v: Value, B: number, T: number, p: number, rng: Rng): TensorData {
  const inner = v.shape[2] as number;
  const data = new Float32Array(B * T * inner);
  const keep = 1 / (1 - p);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < p ? 0 : keep;
  return { data, dims: [B, T, inner] };
}

/**
 * The gradients a training graph returns as outputs `grad.<name>` (see causal-lm-graph.ts), by
 * trainable tensor name: float32, each the shape of its tensor (views of the run's outputs, no copy).
 */
export function trainableGrads(names: readonly string[], out: Readonly<Record<string, TensorData>>): Map<string, Float32Array> {
  const grads = new Map<string, Float32Array>();
  for (const n of names) grads.set(n, out[`grad.${n}`]!.data as Float32Array);
  return grads;
}

/**
 * A method's training graph (loss and gradients) and evaluation graph (loss only), each built and
 * compiled once, on first use. `build` and `runtime` are called lazily, so they may read fields the
 * owner sets in its constructor.
 */
export class TrainEvalGraphs<G extends { lg: { graph: Graph }; outputs: Record<string, Value> }> {
  private readonly cache = new Map<boolean, { graph: G; exe: Promise<Executable> }>();
  constructor(
    private readonly build: (train: boolean) => G,
    private readonly runtime: () => Runtime,
  ) {}

  get(train: boolean): { graph: G; exe: Promise<Executable> } {
    let c = this.cache.get(train);
    if (!c) {
      const graph = this.build(train);
      c = { graph, exe: this.runtime().compile(graph.lg.graph, graph.outputs) };
      this.cache.set(train, c);
    }
    return c;
  }
}
