/**
 * The ReferenceModel seam: log-probs of the frozen starting model (π_ref of DPO and GRPO's KL term).
 *
 * Three kinds, none of them a mutable flag on the policy:
 *   - LoRA: the policy's own weights with the adapter left out of the call (`lm.withoutAdapter()`),
 *     no second copy in memory. When the adapter is not an identity (training continues an existing
 *     adapter, `--adapter`), the reference is base + a frozen copy of that adapter, as TRL does.
 *   - full fine-tuning: a frozen copy of the starting parameters (1x parameter memory).
 *   - precomputed (TRL's `precompute_ref_log_probs`): computed once before training from the
 *     starting weights, kept in a file beside the run so a resumed run does not recompute them, and
 *     no reference weights are held during training.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { withFsContext } from "../io/fs-errors.js";
import { dirname } from "node:path";
import { CausalLM } from "../model/causal-lm.js";
import { type BranchedRow, type ScoreBatch, collateBranched } from "../model/branched.js";
import { SafetensorsFile, writeSafetensors } from "../io/safetensors.js";
import type { LoraAdapter } from "../lora/adapter.js";
import type { Policy } from "./seams.js";

export const ReferenceModel = Symbol.for("ortrl.ReferenceModel");
export interface ReferenceModel {
  /** What the reference is, for logs and errors. */
  readonly description: string;
  /** log p_ref of every scored token of packed branched rows: [B, N] float32, 0 at padding; logits divided by `temperature` (default 1). */
  scoreLogps(batch: ScoreBatch, opts?: { temperature?: number }): Promise<Float32Array>;
  /** Called once before training with every row that will be scored (a precomputed reference computes them now). */
  prepare?(rows: readonly BranchedRow[], opts: { padId: number; batchSize: number; signal?: AbortSignal }): Promise<void>;
}

/** A frozen CausalLM (or view) as the reference. */
export class CausalLmReference implements ReferenceModel {
  constructor(
    readonly lm: CausalLM,
    readonly description: string,
  ) {}
  scoreLogps(batch: ScoreBatch, opts: { temperature?: number } = {}): Promise<Float32Array> {
    return this.lm.scoreLogps(batch, opts);
  }
}

/** Whether an adapter leaves its model unchanged (every lora_B is zero, as PEFT initialises it). */
export function isIdentityAdapter(adapter: LoraAdapter): boolean {
  return adapter.params.names.filter((n) => n.endsWith("lora_B.weight")).every((n) => adapter.params.get(n).every((v) => v === 0));
}

/**
 * The policy's starting model as a view of its current weights, without copying: only valid before
 * the first update (used to precompute reference log-probs at setup).
 */
export function startingModelView(policy: Policy): CausalLM {
  return policy.adapter && isIdentityAdapter(policy.adapter) ? policy.lm.withoutAdapter() : policy.lm;
}

/**
 * The default reference of a policy: its model as it is now, frozen (see the file comment). Create
 * it before training changes the weights (the training container resolves it when the trainer is
 * built, before any step or checkpoint restore).
 */
export function createReferenceModel(policy: Policy): ReferenceModel {
  const { lm, adapter } = policy;
  if (adapter && isIdentityAdapter(adapter)) return new CausalLmReference(lm.withoutAdapter(), "the base model (adapter disabled)");
  if (adapter) {
    const frozen = { placement: { ...adapter.placement, dropout: false }, params: adapter.params.clone(), originals: adapter.originals };
    const saved = new Map(adapter.modulesToSave.map((n) => [n, Float32Array.from(lm.params.get(n))]));
    return new CausalLmReference(lm.withAdapter(frozen, saved), "the base model + a frozen copy of the starting adapter");
  }
  return new CausalLmReference(new CausalLM(lm.arch, lm.params.clone(), lm.runtime), "a frozen copy of the starting model");
}

/** Identity of a row's tokens (sha1 over lengths and ids). */
export function rowKey(row: BranchedRow): string {
  const ints = [row.prefix.length, ...row.prefix, row.branches.length];
  for (const b of row.branches) ints.push(b.length, ...b);
  return createHash("sha1").update(new Uint8Array(Int32Array.from(ints).buffer)).digest("hex");
}

/**
 * Fingerprint of a model's weights as a reference sees them: names, shapes and a strided sample of
 * values (at most ~1M values hashed), plus the adapter's and overrides'.
 */
export function modelFingerprint(lm: CausalLM): string {
  const h = createHash("sha1");
  const add = (name: string, data: Float32Array) => {
    h.update(`${name}:${data.length};`);
    const stride = Math.max(1, Math.floor(data.length / 4096));
    const sample = new Float32Array(Math.ceil(data.length / stride));
    for (let i = 0, j = 0; i < data.length; i += stride, j++) sample[j] = data[i]!;
    h.update(new Uint8Array(sample.buffer));
  };
  for (const n of lm.params.names) add(n, lm.overrides.get(n) ?? lm.params.get(n));
  if (lm.adapter) for (const n of lm.adapter.params.names) add(`adapter.${n}`, lm.adapter.params.get(n));
  return h.digest("hex");
}

const FORMAT = "ortrl-reference-logps-v1";

/**
 * Reference log-probs precomputed from a live reference before training, stored per row (keyed by
 * the row's tokens) in a safetensors file (`logps` F32 plus a JSON index in the metadata). A file
 * written for the same reference weights is reused (a resumed run reads it); one written for other
 * weights is replaced. Asking for a row that was not precomputed is an error.
 */
export class PrecomputedReference implements ReferenceModel {
  private readonly table = new Map<string, Float32Array>();
  readonly description: string;

  /**
   * @param source the live reference, valid until training starts (e.g. {@link startingModelView}).
   * @param file where the log-probs are kept (e.g. outputDir/reference_logps.safetensors).
   * @param fingerprint identity of the reference weights ({@link modelFingerprint}).
   */
  constructor(
    private readonly source: ReferenceModel,
    readonly file: string,
    private readonly fingerprint: string,
  ) {
    this.description = `reference log-probs precomputed into ${file}`;
  }

  /** Rows computed by the last {@link prepare} (0 when everything came from the file). */
  computedRows = 0;

  /**
   * Loads `file` when it was written for the same weights, computes the rows it lacks, and writes
   * the file (atomically) when anything was computed. `signal` stops early, keeping what was computed.
   * @throws Error naming the file when it exists but cannot be read.
   */
  async prepare(rows: readonly BranchedRow[], opts: { padId: number; batchSize: number; signal?: AbortSignal }): Promise<void> {
    this.load();
    const missing = new Map<string, BranchedRow>();
    for (const r of rows) {
      const k = rowKey(r);
      if (!this.table.has(k)) missing.set(k, r);
    }
    const todo = [...missing.entries()];
    let done = 0;
    for (let i = 0; i < todo.length && !opts.signal?.aborted; i += opts.batchSize) {
      const chunk = todo.slice(i, i + opts.batchSize);
      const sb = collateBranched(chunk.map(([, r]) => r), opts.padId);
      const logps = await this.source.scoreLogps(sb);
      chunk.forEach(([k], b) => {
        const n = sb.spans[b]!.at(-1)![1];
        this.table.set(k, logps.slice(b * sb.numScored, b * sb.numScored + n));
      });
      done += chunk.length;
    }
    this.computedRows = done;
    // An interrupted precomputation keeps what it computed (rows are keyed by their tokens).
    if (done) this.save();
  }

  /** @throws Error for a temperature other than 1 (precomputed at 1) or a row that was not precomputed. */
  async scoreLogps(batch: ScoreBatch, opts: { temperature?: number } = {}): Promise<Float32Array> {
    if ((opts.temperature ?? 1) !== 1) throw new Error(`${this.file}: reference log-probs were precomputed at temperature 1, asked for ${opts.temperature}`);
    const out = new Float32Array(batch.batch.batchSize * batch.numScored);
    batch.rows.forEach((r, b) => {
      const v = this.table.get(rowKey(r));
      if (!v) throw new Error(`${this.file}: no precomputed reference log-probs for a row (prefix of ${r.prefix.length} tokens); the data changed after precomputation`);
      out.set(v, b * batch.numScored);
    });
    return out;
  }

  private load(): void {
    if (!existsSync(this.file)) return;
    let st: SafetensorsFile;
    try {
      st = SafetensorsFile.open(this.file);
    } catch (e) {
      throw new Error(`${this.file}: unreadable precomputed reference log-probs (${(e as Error).message}); delete it to recompute`);
    }
    try {
      if (st.metadata.format !== FORMAT || st.metadata.fingerprint !== this.fingerprint) return;
      const all = st.readFloat32("logps");
      const index = JSON.parse(st.metadata.index ?? "[]") as [string, number, number][];
      for (const [k, off, len] of index) this.table.set(k, all.subarray(off, off + len));
    } finally {
      st.close();
    }
  }

  private save(): void {
    let total = 0;
    for (const v of this.table.values()) total += v.length;
    const all = new Float32Array(total);
    const index: [string, number, number][] = [];
    let off = 0;
    for (const [k, v] of this.table) {
      all.set(v, off);
      index.push([k, off, v.length]);
      off += v.length;
    }
    withFsContext("create directory", dirname(this.file), () => mkdirSync(dirname(this.file), { recursive: true }));
    // writeSafetensors writes a temporary sibling and renames it into place.
    writeSafetensors(this.file, { logps: { dtype: "F32", shape: [total], data: all } }, { format: FORMAT, fingerprint: this.fingerprint, index: JSON.stringify(index) });
  }
}
