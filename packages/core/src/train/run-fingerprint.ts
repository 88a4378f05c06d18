/**
 * What a checkpoint must agree on with the run that resumes it, so that "resume is exact" cannot fail
 * silently: the starting model (its config and a sampled hash of its weights, {@link modelFingerprint}), the
 * trainable tensors (names and shapes), the training data (a hash of the examples in dataset order,
 * which with the seed fixes every epoch's order) and every argument. Stored in trainer_state.json as
 * `ortrl_fingerprint`.
 *
 * Arguments fall in two classes. Those that only change cadence or bookkeeping ({@link isHarmlessArg}:
 * logging, evaluation and saving cadence, evaluation data, max_steps / num_train_epochs to extend a
 * run, paths) may differ when the user accepts it (`acceptHarmless`); the rest change the math and
 * must match. Data files are compared by content, not path (a moved file is the same data).
 */
import { createHash } from "node:crypto";
import type { ParamSource } from "../params/param-store.js";
import { fileHash, fileOf } from "./file-args.js";

export interface RunFingerprint {
  version: 1;
  /** Hash of the starting model's weights (see modelFingerprint). */
  model: string;
  /** Hash of the trainable tensors' names and shapes, and their count/size in words. */
  trainable: string;
  trainable_summary: string;
  /** Hash of the training examples and their count. */
  data: string;
  num_examples: number;
  /** Every argument (camelCase keys as in the config; JSON values). */
  args: Record<string, unknown>;
}

/** Hash of names and shapes, with "N tensors, M parameters". */
export function trainableFingerprint(trainable: ParamSource): { hash: string; summary: string } {
  const h = createHash("sha1");
  let total = 0;
  for (const n of trainable.names) {
    h.update(`${n}:${trainable.shape(n).join("x")};`);
    total += trainable.get(n).length;
  }
  return { hash: h.digest("hex"), summary: `${trainable.names.length} tensors, ${total} parameters` };
}

/** Hash of the examples in dataset order (their JSON). */
export function dataFingerprint(examples: readonly unknown[]): string {
  const h = createHash("sha1");
  for (const e of examples) h.update(JSON.stringify(e) ?? "undefined").update("\n");
  return h.digest("hex");
}

/**
 * Paths whose content is covered elsewhere (data), what only decides where or what the run writes at its end or
 * beside its training (samples.jsonl: the generate* options), and
 * evalOnStart (it acts at step 0 only, never in a resumed run).
 */
const IGNORED_ARGS = new Set(["outputDir", "resumeFromCheckpoint", "acceptChangedArgs", "dataFiles", "saveMerged", "evalOnStart", "generateEvery", "generatePrompts", "generateMaxNewTokens"]);
const HARMLESS_ARGS = new Set(["maxSteps", "numTrainEpochs", "perDeviceEvalBatchSize", "saveTotalLimit"]);

/** Arguments that change no computation of the training steps (cadence, evaluation, bookkeeping). */
export function isHarmlessArg(key: string): boolean {
  return HARMLESS_ARGS.has(key) || /^(eval|logging|log|save)[A-Z]/.test(key);
}

/**
 * The arguments as stored: every JSON-serialisable field except the ignored paths; a value naming a
 * file (a reward-function module, a chat template) is stored as `{ file: <sha1 of its content> }`
 * (with its `:export` suffix), so the same file by another path matches and an edited one does not.
 */
export function fingerprintArgs(args: object): Record<string, unknown> {
  const byContent = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(byContent);
    const f = typeof v === "string" ? fileOf(v) : null;
    return f ? { file: fileHash(f), ...(f !== v ? { export: (v as string).slice(f.length + 1) } : {}) } : v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) if (!IGNORED_ARGS.has(k) && typeof v !== "function") out[k] = v === undefined ? null : byContent(v);
  return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
}

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A checkpoint refused because it belongs to another run (a usage error: resume with its settings). */
export class ResumeMismatchError extends Error {
  override name = "ResumeMismatchError";
}

/** One difference between a checkpoint's run and this one. */
export interface RunDifference {
  what: string;
  harmless: boolean;
}

/** The differences between a checkpoint's fingerprint (`then`) and this run's (`now`). */
export function compareFingerprints(then: RunFingerprint, now: RunFingerprint): RunDifference[] {
  const out: RunDifference[] = [];
  if (then.model !== now.model) out.push({ what: "the starting model differs (its config.json or weights)", harmless: false });
  if (then.trainable !== now.trainable) out.push({ what: `the trainable tensors differ (checkpoint: ${then.trainable_summary}; this run: ${now.trainable_summary})`, harmless: false });
  if (then.data !== now.data) {
    const count = then.num_examples === now.num_examples ? `${now.num_examples} examples each, different content` : `${then.num_examples} examples in the checkpoint's run, ${now.num_examples} now`;
    out.push({ what: `the training data differ (${count})`, harmless: false });
  }
  for (const k of [...new Set([...Object.keys(then.args), ...Object.keys(now.args)])].sort()) {
    const a = JSON.stringify(then.args[k] ?? null);
    const b = JSON.stringify(now.args[k] ?? null);
    if (a !== b) {
      const file = a.includes('"file":') || b.includes('"file":');
      out.push({ what: file ? `${snake(k)}: a named file differs in content (or is another file)` : `${snake(k)} ${a} -> ${b}`, harmless: isHarmlessArg(k) });
    }
  }
  return out;
}

/**
 * Checks a checkpoint's fingerprint against this run's.
 * @param acceptHarmless accept differences in cadence/bookkeeping arguments (`--accept-changed-args`).
 * @param warn warn when the checkpoint has no fingerprint (older ortrl).
 * @throws ResumeMismatchError naming the checkpoint and listing every difference that is not accepted; the message
 *   says which could be accepted.
 */
export function assertSameRun(checkpoint: string, then: RunFingerprint | undefined, now: RunFingerprint, acceptHarmless: boolean, warn = true): RunDifference[] {
  if (!then) {
    if (warn) process.emitWarning(`${checkpoint}: no run fingerprint (written by an older ortrl); cannot check that it belongs to this run's model, data and settings`, { code: "ORTRL_RESUME_UNCHECKED" });
    return [];
  }
  const diffs = compareFingerprints(then, now);
  const refused = diffs.filter((d) => !d.harmless || !acceptHarmless);
  if (refused.length) {
    const onlyHarmless = refused.every((d) => d.harmless);
    throw new ResumeMismatchError(
      `${checkpoint} was written by a different run: ${refused.map((d) => d.what).join("; ")}. ` +
        (onlyHarmless
          ? "These only change logging, evaluation, saving or run length: pass --accept-changed-args (accept_changed_args: true in a config file) to resume with them"
          : "Resume with the checkpoint's model, data and settings (its trainer_state.json lists them under ortrl_fingerprint)"),
    );
  }
  return diffs;
}
