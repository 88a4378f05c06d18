/**
 * `ortrl eval --model DIR --data FILE [--format text|sft|pairs|prompts] [--adapter DIR] [...]`: evaluates
 * a model on a file in any training data format, through the methods' own data pipelines, and prints one
 * JSON line. The format is detected from the file (plain text, or the first record's fields) unless
 * `--format` forces it:
 *
 * - text (a plain-text file = one document, or `{"text"}` records; as `train cpt` reads them): BOS + text,
 *   no EOS; strided (sliding-window) perplexity, windows of `--max-length` tokens (default
 *   max_position_embeddings) every `--stride` tokens (default = max-length) — see core's
 *   strided-perplexity.ts; no document is truncated. Prints `{"loss", "perplexity", "tokens", "format",
 *   "documents", "windows", "unscored", "max_length", "stride"}` (the first three as before).
 * - sft (Alpaca, prompt-completion, messages; as `train sft`): the same tokenization, chat template
 *   (`--chat-template`), loss masks (completion-only by default; `--assistant-only-loss`) and truncation
 *   (`--max-length`, default 1024, capped at max_position_embeddings) as `train sft`'s evaluation;
 *   prints `eval_loss`, `perplexity`, `eval_tokens` (scored tokens) as its metrics.jsonl does.
 * - pairs (chosen/rejected, with or without prompt; as `train dpo`): the DPO objective's evaluation
 *   (`--beta`, default 0.1; `--max-length` default 1024, `--max-prompt-length`), with TRL's keys
 *   (`eval_loss`, `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`,
 *   `logps/chosen`, `logps/rejected`, `logits/chosen`, `logits/rejected`) averaged over batches of
 *   `--batch-size` pairs as the trainer does. Policy = the model (+ `--adapter`); reference = the base
 *   model when `--adapter` is given, else the model itself (rewards, margins and accuracies are then 0
 *   and eval_loss is log 2; `reference` says which).
 * - prompts (`{prompt|query|question, answer?}`, as `train grpo`): completions generated greedily
 *   (default; `--temperature T --num-samples N` samples), scored by `--reward-funcs` (built-ins
 *   `accuracy`, `format`, or FILE:export, as `train grpo`): `rewards/<name>/mean` per function (over the
 *   completions it applies to), `reward` (the sum over functions, as GRPO's total with weights 1), and
 *   `exact_match` when an `answer` (or `solution`) column exists: the completion's text after its last
 *   "####" (or all of it), trimmed, equals the gold answer (after its last "####"), trimmed.
 *
 * Bad input is one error line naming the file, record and field (the methods' own DataErrors).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import {
  CausalLmPolicy,
  CausalLmReference,
  type CausalLM,
  DataError,
  Rng,
  Runtime,
  type PretrainedModel,
  type RewardArgs,
  attachAdapterFromDir,
  evaluateLoss,
  generate,
  loadChatTemplate,
  loadPretrained,
  readDataFile,
  scoreCompletions,
  stridedPerplexity,
} from "@ortrl/core";
import { readDocuments, tokenizeLong } from "@ortrl/cpt";
import { buildSftDataset, readSftRecords } from "@ortrl/sft";
import { DPO_DEFAULTS, type DpoConfig, DpoObjective, buildDpoDataset, dpoPadId, effectiveLengths, readPreferenceRecords } from "@ortrl/dpo";
import { buildGrpoDataset, goldAnswer, readPromptRecords, resolveRewards } from "@ortrl/grpo";
import { UsageError, num } from "../errors.js";
import { type ModelFlags, addModelOptions, resolveAdapterAsModel } from "./model-options.js";

export const EVAL_FORMATS = ["text", "sft", "pairs", "prompts"] as const;
export type EvalFormat = (typeof EVAL_FORMATS)[number];

interface EvalFlags extends ModelFlags {
  data: string;
  format?: EvalFormat;
  maxLength?: number;
  stride?: number;
  batchSize: number;
  chatTemplate?: string;
  assistantOnlyLoss?: boolean;
  beta: number;
  maxPromptLength?: number;
  rewardFuncs?: string;
  numSamples: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
}

type Metrics = Record<string, number | string | null>;

export function evalCommand(): Command {
  const cmd = new Command("eval").description("evaluate a model on text, SFT, preference-pair or prompt records (format detected per file)");
  addModelOptions(cmd)
    .requiredOption("--data <file>", "plain text or records (JSONL, a JSON array, CSV or Parquet; gzip or not) in any training format", (raw: string, previous: string | undefined) => {
      if (previous !== undefined) throw new UsageError(`--data given twice ('${previous}', '${raw}'): ortrl eval scores one file; run it once per file`);
      return raw;
    })
    .addOption(new Option("--format <f>", "force the format instead of detecting it").choices([...EVAL_FORMATS]))
    .option("--max-length <n>", "text: window length (default max_position_embeddings); sft/pairs: row length as training (default 1024, capped)", num("--max-length", true, 2))
    .option("--stride <n>", "text: tokens between window starts (default = --max-length: disjoint windows)", num("--stride", true, 1))
    .option("--batch-size <n>", "rows (windows, records, pairs, prompts) per forward pass", num("--batch-size", true, 1), 8)
    .option("--chat-template <file>", "sft/pairs/prompts: Jinja chat template (a .jinja file or the template) instead of the tokenizer's")
    .option("--assistant-only-loss", "sft: score only assistant turns of conversational records (as train sft)")
    .option("--beta <b>", "pairs: DPO beta (> 0)", (raw: string) => {
      const v = num("--beta")(raw);
      if (!(v > 0)) throw new UsageError(`--beta must be > 0, got '${raw}'`);
      return v;
    }, 0.1)
    .option("--max-prompt-length <n>", "pairs/prompts: longest prompt in tokens (keeps its end)", num("--max-prompt-length", true, 1))
    .option("--reward-funcs <list>", "prompts: comma-separated reward functions (accuracy, format, FILE.ts:export)")
    .option("--num-samples <n>", "prompts: completions per prompt", num("--num-samples", true, 1), 1)
    .option("--temperature <t>", "prompts: sampling temperature (0 = greedy)", num("--temperature", false, 0), 0)
    .option("--top-p <p>", "prompts: nucleus sampling mass in (0, 1]", (raw: string) => {
      const v = num("--top-p")(raw);
      if (!(v > 0 && v <= 1)) throw new UsageError(`--top-p expects a number in (0, 1], got '${raw}'`);
      return v;
    }, 1)
    .option("--max-new-tokens <n>", "prompts: new tokens per completion at most", num("--max-new-tokens", true, 1), 256)
    .option("--seed <s>", "prompts: sampler seed", num("--seed", true, 0), 0)
    .action(async (flags: EvalFlags) => {
      const format = flags.format ?? detectEvalFormat(flags.data);
      Object.assign(flags, resolveAdapterAsModel(flags));
      // No --chat-template: the one training saved with the adapter (or model) as chat_template.jinja, as generate does.
      if (flags.chatTemplate === undefined) {
        const saved = [flags.adapter, flags.model].find((d) => d !== undefined && existsSync(join(d, "chat_template.jinja")));
        if (saved !== undefined) flags.chatTemplate = join(saved, "chat_template.jinja");
      }
      const runtime = new Runtime({ executionProvider: flags.device, intraOpNumThreads: flags.threads });
      const model = await loadPretrained(flags.model, runtime);
      if (!model.tokenizer) throw new Error(`${flags.model}: no tokenizer.json`);
      const out = format === "pairs" ? await evalPairs(flags, model) : await ({ text: evalText, sft: evalSft, prompts: evalPrompts } as const)[format](flags, model, await modelLm(flags, model));
      process.stdout.write(JSON.stringify(out) + "\n");
    });
  return cmd;
}

/**
 * The format of a data file as training reads it: plain text is `text`; records by the first record's
 * fields: chosen + rejected = pairs; messages, prompt + completion, or instruction + output = sft;
 * text = text; prompt, query or question = prompts.
 * @throws DataError naming the file and the first record when it fits none.
 */
export function detectEvalFormat(path: string): EvalFormat {
  const c = readDataFile(path);
  if (c.format === "text") return "text";
  const first = c.records[0];
  if (!first) throw new DataError(path, 0, "no records");
  const r = first.record;
  const has = (k: string) => r[k] !== undefined;
  if (has("chosen") || has("rejected")) return "pairs"; // one of the two missing: the pairs reader names it
  if (has("messages") || (has("prompt") && has("completion")) || (has("instruction") && has("output"))) return "sft";
  if (has("text")) return "text";
  if (has("prompt") || has("query") || has("question")) return "prompts";
  const seen = Object.keys(r);
  throw new DataError(
    path,
    first.line,
    `${first.where ?? "record"} fits no evaluation format (fields seen: ${seen.length ? seen.join(", ") : "none"}); expected {text}, SFT records ({messages}, {prompt, completion}, {instruction, input?, output}), ` +
      "preference pairs ({prompt?, chosen, rejected}) or prompts ({prompt|query|question, answer?}), or pass --format",
  );
}

/** The model as evaluated: --model, with --adapter attached. */
async function modelLm(flags: EvalFlags, m: PretrainedModel): Promise<CausalLM> {
  return flags.adapter ? (await attachAdapterFromDir(m.lm, flags.adapter)).lm : m.lm;
}

/** Row length of sft / pairs: --max-length (default 1024, as training), capped at the model's context. */
function rowLength(flags: EvalFlags, maxPos: number): number {
  const want = flags.maxLength ?? 1024;
  if (flags.maxLength !== undefined && want > maxPos) process.emitWarning(`--max-length ${want} is longer than the model's context (max_position_embeddings ${maxPos}); using ${maxPos}`, { code: "ORTRL_EVAL_MAX_LENGTH" });
  return Math.min(want, maxPos);
}

async function evalText(flags: EvalFlags, m: PretrainedModel, lm: CausalLM): Promise<Metrics> {
  const tok = m.tokenizer!;
  const maxPos = m.config.maxPositionEmbeddings;
  if (flags.maxLength !== undefined && flags.maxLength > maxPos) process.emitWarning(`--max-length ${flags.maxLength} is longer than the model's context (max_position_embeddings ${maxPos}); using ${maxPos}`, { code: "ORTRL_EVAL_MAX_LENGTH" });
  const maxLength = Math.min(flags.maxLength ?? maxPos, maxPos);
  const stride = flags.stride ?? maxLength;
  if (stride > maxLength) throw new UsageError(`--stride ${stride} is longer than the window (--max-length ${maxLength}); tokens between windows would never be scored`);
  const docs = readDocuments(flags.data);
  // As `train cpt` evaluates: BOS (when the tokenizer adds one) + the whole text, no EOS.
  const ids = docs.map((d) => {
    const t = tokenizeLong(tok, d.text);
    if (tok.addBosToken && tok.bosTokenId !== null) t.unshift(tok.bosTokenId);
    return t;
  });
  if (ids.every((x) => x.length < 2)) throw new DataError(flags.data, 0, "no document has 2 or more tokens to score");
  const r = await stridedPerplexity(lm, ids, { maxLength, stride, batchSize: flags.batchSize });
  return { loss: r.loss, perplexity: r.perplexity, tokens: r.tokens, format: "text", documents: docs.length, windows: r.windows, unscored: r.unscored, max_length: maxLength, stride };
}

async function evalSft(flags: EvalFlags, m: PretrainedModel, lm: CausalLM): Promise<Metrics> {
  const records = readSftRecords(flags.data);
  const maxLength = rowLength(flags, m.config.maxPositionEmbeddings);
  const ds = buildSftDataset(
    m.tokenizer!,
    records,
    { completionOnlyLoss: null, assistantOnlyLoss: flags.assistantOnlyLoss ?? false, chatTemplate: loadChatTemplate(flags.chatTemplate ?? null), maxLength, packing: false },
    "evaluation",
  );
  const r = await evaluateLoss(lm, ds.examples.map((e) => e.inputIds), { labels: ds.examples.map((e) => e.labels), batchSize: flags.batchSize });
  const s = ds.stats;
  return { format: "sft", eval_loss: r.loss, perplexity: r.perplexity, eval_tokens: r.tokens, records: s.records, truncated: s.truncated, skipped: s.skipped, max_length: maxLength };
}

async function evalPairs(flags: EvalFlags, m: PretrainedModel): Promise<Metrics> {
  const records = readPreferenceRecords(flags.data);
  const policy = CausalLmPolicy.fromPretrained(m, null, 0, { adapterDir: flags.adapter ?? null });
  const reference = flags.adapter
    ? new CausalLmReference(policy.lm.withoutAdapter(), "the base model (--model without --adapter)")
    : new CausalLmReference(policy.lm, "the model itself (no --adapter: rewards are 0)");
  const maxPos = m.config.maxPositionEmbeddings;
  const config: DpoConfig = { ...DPO_DEFAULTS, outputDir: "", beta: flags.beta, perDeviceEvalBatchSize: flags.batchSize, maxLength: flags.maxLength ?? DPO_DEFAULTS.maxLength, maxPromptLength: flags.maxPromptLength ?? null };
  if (config.maxPromptLength !== null && config.maxPromptLength >= config.maxLength) throw new UsageError(`--max-prompt-length ${config.maxPromptLength} must be less than --max-length ${config.maxLength}`);
  const lengths = effectiveLengths(config, maxPos);
  const ds = buildDpoDataset(m.tokenizer!, records, { chatTemplate: loadChatTemplate(flags.chatTemplate ?? null), ...lengths, maxCompletionLength: null }, "evaluation");
  const objective = new DpoObjective(policy, reference, config, dpoPadId(policy));
  // As the trainer's evaluate(): eval_loss = summed loss / pairs; other metrics = the mean of the batch means.
  let lossSum = 0;
  let count = 0;
  const sums = new Map<string, number>();
  let batches = 0;
  for (let i = 0; i < ds.examples.length; i += flags.batchSize) {
    const r = await objective.evalStep(ds.examples.slice(i, i + flags.batchSize));
    lossSum += r.lossSum;
    count += r.count;
    batches++;
    for (const [k, v] of Object.entries(r.metrics ?? {})) sums.set(k, (sums.get(k) ?? 0) + v);
  }
  const metrics: Record<string, number> = Object.fromEntries([...sums].map(([k, v]) => [k, v / batches]));
  let evalLoss = lossSum / count;
  if (!flags.adapter) {
    // Reference = policy: every reward is beta * (logp - logp) = 0 exactly. The objective computes the two
    // through different graphs (float32 rounding of ~1e-5 would flip accuracies), so report the exact values.
    for (const k of ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"]) metrics[k] = 0;
    evalLoss = Math.LN2; // -log sigmoid(0): the default sigmoid loss (eval has no --loss-type)
  }
  const s = ds.stats;
  return { format: "pairs", eval_loss: evalLoss, ...metrics, pairs: s.pairs, records: s.records, truncated: s.truncated, skipped: s.records - s.pairs, beta: flags.beta, reference: reference.description };
}

async function evalPrompts(flags: EvalFlags, m: PretrainedModel, lm: CausalLM): Promise<Metrics> {
  const tok = m.tokenizer!;
  const records = readPromptRecords(flags.data);
  const specs = (flags.rewardFuncs ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const goldOf = (c: Record<string, unknown>) => c.answer ?? c.solution;
  const hasAnswer = records.some((r) => goldOf(r.columns) !== undefined);
  if (!specs.length && !hasAnswer) throw new UsageError(`${flags.data}: prompt records without an 'answer' column need --reward-funcs (e.g. format, or FILE.ts:exportName)`);
  const rewards = await resolveRewards(specs, null, { formatPattern: "^<think>[\\s\\S]*?</think>" });
  const maxPos = m.config.maxPositionEmbeddings;
  const maxNewTokens = Math.min(flags.maxNewTokens, maxPos - 1);
  const maxPromptLength = Math.min(flags.maxPromptLength ?? maxPos, maxPos - maxNewTokens);
  const ds = buildGrpoDataset(tok, records, { chatTemplate: loadChatTemplate(flags.chatTemplate ?? null), maxPromptLength, why: `prompt + --max-new-tokens ${maxNewTokens} must fit max_position_embeddings ${maxPos}` }, "evaluation");
  const N = flags.numSamples;
  const rng = new Rng(flags.seed);
  const rewardSums = rewards.map(() => ({ sum: 0, n: 0 }));
  let total = 0;
  let matches = 0;
  let gold = 0;
  let completions = 0;
  for (let i = 0; i < ds.examples.length; i += flags.batchSize) {
    const batch = ds.examples.slice(i, i + flags.batchSize).flatMap((e) => Array.from({ length: N }, () => e));
    const out = await generate(lm.withFrozenBase(), batch.map((e) => e.promptIds), { maxNewTokens, temperature: flags.temperature, topP: flags.topP, eosTokenId: tok.eosTokenId ?? undefined, rng });
    const texts = out.completions.map((ids) => tok.decode(ids, { skipSpecialTokens: true }));
    completions += texts.length;
    batch.forEach((e, j) => {
      const g = goldOf(e.columns);
      if (g === undefined || g === null || String(g).trim() === "") return;
      gold++;
      const t = texts[j]!;
      const k = t.lastIndexOf("####");
      if ((k >= 0 ? t.slice(k + 4) : t).trim() === goldAnswer(g)) matches++;
    });
    if (!rewards.length) continue;
    const columns = [...new Set(batch.flatMap((e) => Object.keys(e.columns)))];
    const args: RewardArgs = {
      prompts: batch.map((e) => e.prompt),
      completions: texts.map((t, j) => (batch[j]!.conversational ? [{ role: "assistant", content: t }] : t)),
      completionIds: out.completions,
      ...Object.fromEntries(columns.map((c) => [c, batch.map((e) => e.columns[c])])),
    };
    const scores = await scoreCompletions(rewards, args, "evaluation");
    scores.perFunction.forEach((xs, f) => xs.forEach((x) => Number.isNaN(x) || ((rewardSums[f]!.sum += x), rewardSums[f]!.n++)));
    total += scores.total.reduce((a, b) => a + b, 0);
  }
  const out: Metrics = { format: "prompts" };
  rewards.forEach((r, f) => (out[`rewards/${r.name}/mean`] = rewardSums[f]!.n ? rewardSums[f]!.sum / rewardSums[f]!.n : null));
  if (rewards.length) out.reward = total / completions;
  if (gold) out.exact_match = matches / gold;
  Object.assign(out, { prompts: ds.examples.length, completions, num_samples: N, temperature: flags.temperature, max_new_tokens: maxNewTokens });
  return out;
}

