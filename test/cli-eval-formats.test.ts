/**
 * `ortrl eval` on every training data format (run `npm run build` first), on the real stories260K model:
 * strided perplexity against a hand-computed sliding-window NLL (core), `.txt` and `{"text"}` records
 * (nothing truncated), Alpaca completion loss equal to `train sft`'s step-0 evaluation, DPO keys for
 * preference pairs (zero rewards against the model itself, non-zero with an adapter), rewards and
 * exact match for GSM8K prompts, and one-line errors naming the file, record and field.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { type CliResult, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";
import { saveNonZeroAdapter } from "./helpers/lora-adapter.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const DATA = join(SHARED, "data");
let tmp = "";
let txt = "";
let alpaca = "";
let pairs = "";
let gsm8k = "";
let adapterDir = "";

const run = (args: string[]): CliResult => ortrl(["eval", "--model", MODEL, ...args], { timeoutMs: 120_000 });
const json = (r: CliResult) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-eval-formats-"));
  txt = join(tmp, "shakespeare.txt");
  writeFileSync(txt, readFileSync(join(DATA, "tinyshakespeare/input.txt"), "utf8").slice(0, 3000));
  alpaca = join(tmp, "alpaca.json");
  const recs = JSON.parse(readFileSync(join(DATA, "alpaca-en-demo/alpaca_en_demo.json"), "utf8")) as Record<string, string>[];
  writeFileSync(alpaca, JSON.stringify(recs.filter((r) => r.output!.length < 600).slice(0, 6)));
  // dpo-en-demo is ShareGPT (needs a chat template): its last human turn and the two answers as a standard pair.
  const dpo = JSON.parse(readFileSync(join(DATA, "dpo-en-demo/dpo_en_demo.json"), "utf8")) as { conversations: { value: string }[]; chosen: { value: string }; rejected: { value: string } }[];
  pairs = join(tmp, "pairs.jsonl");
  writeFileSync(pairs, jsonl(dpo.slice(0, 4).map((d) => ({ prompt: d.conversations.at(-1)!.value.slice(0, 300), chosen: d.chosen.value.slice(0, 300), rejected: d.rejected.value.slice(0, 300) }))));
  gsm8k = join(tmp, "gsm8k.jsonl");
  writeFileSync(gsm8k, readFileSync(join(DATA, "gsm8k/test.jsonl"), "utf8").split("\n").slice(0, 3).join("\n") + "\n");
  // A LoRA adapter whose lora_B is not zero, so policy (base + adapter) and reference (base) differ.
  const runtime = new F.Runtime({ executionProvider: "cpu" });
  const m = await F.loadPretrained(MODEL, runtime);
  adapterDir = join(tmp, "adapter");
  saveNonZeroAdapter(adapterDir, m, MODEL, { targetModules: "all-linear", seed: 7, value: (rng) => rng.uniform(-0.05, 0.05) });
}, 60_000);

describe("strided perplexity (core)", () => {
  it("follows the guide's windows", () => {
    expect(F.stridedWindows(40, 16, 8)).toEqual([
      { begin: 0, end: 16, target: 0 },
      { begin: 8, end: 24, target: 16 },
      { begin: 16, end: 32, target: 24 },
      { begin: 24, end: 40, target: 32 },
    ]);
    expect(F.stridedWindows(40, 16)).toEqual([
      { begin: 0, end: 16, target: 0 },
      { begin: 16, end: 32, target: 16 },
      { begin: 32, end: 40, target: 32 },
    ]);
    expect(F.stridedWindows(10, 16, 8)).toEqual([{ begin: 0, end: 10, target: 0 }]);
    expect(() => F.stridedWindows(10, 8, 9)).toThrow(/stride/);
  });

  it("equals a hand-computed sliding-window NLL (max_length 16, stride 8), every token after the first scored once", async () => {
    const m = await F.loadPretrained(MODEL, new F.Runtime({ executionProvider: "cpu" }));
    const tok = m.tokenizer!;
    const doc = [tok.bosTokenId!, ...tok.encode("Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her dog.", { addSpecialTokens: false })];
    expect(doc.length).toBeGreaterThan(30);
    // By hand: window k covers [8k, 8k+16) and scores positions [prevEnd, end); the logp of position p
    // comes from tokenLogps of that window alone (index p - begin - 1).
    let nll = 0;
    let n = 0;
    let prevEnd = 0;
    for (let begin = 0; begin < doc.length; begin += 8) {
      const end = Math.min(begin + 16, doc.length);
      const row = doc.slice(begin, end);
      const logps = await m.lm.tokenLogps(F.padBatch([row], { labels: [row] }));
      for (let p = Math.max(prevEnd, begin + 1); p < end; p++) {
        nll -= logps[p - begin - 1]!;
        n++;
      }
      prevEnd = end;
      if (end === doc.length) break;
    }
    const r = await F.stridedPerplexity(m.lm, [doc], { maxLength: 16, stride: 8, batchSize: 3 });
    expect(r.tokens).toBe(doc.length - 1);
    expect(n).toBe(doc.length - 1);
    expect(r.unscored).toBe(1);
    expect(r.loss).toBeCloseTo(nll / n, 4);
    expect(r.perplexity).toBeCloseTo(Math.exp(nll / n), 2);
    // Disjoint windows: each later window's first token has no context and is not scored (as in the guide).
    const d = await F.stridedPerplexity(m.lm, [doc], { maxLength: 16 });
    expect(d.windows).toBe(Math.ceil(doc.length / 16));
    expect(d.tokens + d.unscored).toBe(doc.length);
    expect(d.unscored).toBe(d.windows);
  });
});

describe("ortrl eval: text", () => {
  it("accepts .txt (train cpt's format) and scores the whole document, strided", () => {
    const r = run(["--data", txt, "--max-length", "64", "--stride", "32"]);
    expectOk(r);
    const out = json(r);
    expect(Object.keys(out).slice(0, 3)).toEqual(["loss", "perplexity", "tokens"]);
    expect(out).toMatchObject({ format: "text", documents: 1, unscored: 1, max_length: 64, stride: 32 });
    expect(out.perplexity).toBeCloseTo(Math.exp(out.loss), 6);
    const disjoint = json(run(["--data", txt, "--max-length", "64"]));
    expect(disjoint.tokens + disjoint.unscored).toBe(out.tokens + out.unscored);
    expect(disjoint.loss).toBeGreaterThan(out.loss); // less context per token
  });
  it("{text} records give the same numbers as the same text in a .txt file", () => {
    const recs = join(tmp, "text.jsonl");
    const text = readFileSync(txt, "utf8");
    writeFileSync(recs, jsonl([{ text }]));
    const a = json(run(["--data", txt]));
    const b = json(run(["--data", recs]));
    expect(b.tokens).toBe(a.tokens);
    expect(b.loss).toBeCloseTo(a.loss, 6);
  });
});

describe("ortrl eval: sft", () => {
  it("Alpaca completion-only loss equals train sft's step-0 evaluation", () => {
    const r = run(["--data", alpaca, "--max-length", "256"]);
    expectOk(r);
    const out = json(r);
    expect(out).toMatchObject({ format: "sft", records: 6, skipped: 0 });
    const dir = join(tmp, "sft-eval");
    const t = ortrl(["train", "sft", "--model", MODEL, "--data", alpaca, "--eval-data", alpaca, "--max-seq-length", "256", "--output-dir", dir, "--max-steps", "0", "--eval-on-start"], { timeoutMs: 120_000 });
    expectOk(t);
    const logged = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).find((l) => l.eval_loss !== undefined);
    expect(out.eval_tokens).toBe(logged.eval_tokens);
    expect(out.eval_loss).toBeCloseTo(logged.eval_loss, 4);
    expect(out.perplexity).toBeCloseTo(logged.perplexity, 2);
  });
});

describe("ortrl eval: pairs", () => {
  it("reports TRL's DPO keys; against the model itself the rewards are 0", () => {
    const r = run(["--data", pairs, "--max-length", "256"]);
    expectOk(r);
    const out = json(r);
    expect(out).toMatchObject({ format: "pairs", pairs: 4, beta: 0.1, "rewards/chosen": 0, "rewards/rejected": 0, "rewards/margins": 0, "rewards/accuracies": 0 });
    expect(out.eval_loss).toBeCloseTo(Math.LN2, 6);
    expect(out["logps/chosen"]).toBeLessThan(0);
    expect(out.reference).toMatch(/itself/);
  });
  it("with --adapter: policy = base + adapter, reference = base", () => {
    const out = json(run(["--data", pairs, "--max-length", "256", "--adapter", adapterDir, "--beta", "0.5"]));
    for (const k of ["eval_loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected"]) expect(Number.isFinite(out[k]), k).toBe(true);
    expect(Math.abs(out["rewards/chosen"])).toBeGreaterThan(1e-3);
    expect(out["rewards/margins"]).toBeCloseTo(out["rewards/chosen"] - out["rewards/rejected"], 5);
    expect(out.beta).toBe(0.5);
    expect(out.reference).toMatch(/base model/);
  });
});

describe("ortrl eval: prompts", () => {
  it("GSM8K prompts: greedy completions, mean reward per function and exact match", () => {
    const r = run(["--data", gsm8k, "--reward-funcs", "accuracy,format", "--max-new-tokens", "16"]);
    expectOk(r);
    const out = json(r);
    expect(out).toMatchObject({ format: "prompts", prompts: 3, completions: 3, num_samples: 1, temperature: 0 });
    for (const k of ["rewards/accuracy/mean", "rewards/format/mean", "reward", "exact_match"]) expect(out[k], k).toBeGreaterThanOrEqual(0);
    const sampled = json(run(["--data", gsm8k, "--reward-funcs", "accuracy", "--max-new-tokens", "8", "--num-samples", "2", "--temperature", "1", "--seed", "3"]));
    expect(sampled).toMatchObject({ prompts: 3, completions: 6, num_samples: 2 });
  });
});

describe("ortrl eval: bad input", () => {
  it("one error line naming the file, record and field", () => {
    const none = join(tmp, "none.jsonl");
    writeFileSync(none, jsonl([{ foo: 1 }]));
    expectFailure(run(["--data", none]), /none\.jsonl:1: record fits no evaluation format \(fields seen: foo\)/);
    const badOut = join(tmp, "bad-alpaca.jsonl");
    writeFileSync(badOut, jsonl([{ instruction: "a", output: "b" }, { instruction: "a", output: 3 }]));
    expectFailure(run(["--data", badOut]), /bad-alpaca\.jsonl:2: record: field 'output' must be a string, got (a )?number/);
    const badPair = join(tmp, "bad-pair.jsonl");
    writeFileSync(badPair, jsonl([{ prompt: "p", chosen: "a", rejected: "b" }, { prompt: "p", chosen: 1, rejected: "b" }]));
    expectFailure(run(["--data", badPair]), /bad-pair\.jsonl:2: .*chosen/);
    expectFailure(run(["--data", gsm8k, "--format", "sft"]), /gsm8k\.jsonl:1: record 1? ?fits no SFT dataset format/);
    expectFailure(run(["--data", txt, "--stride", "600", "--max-length", "64"]), /--stride 600/);
    const noRejected = join(tmp, "no-rejected.jsonl");
    writeFileSync(noRejected, jsonl([{ prompt: "x", chosen: "a" }]));
    expectFailure(run(["--data", noRejected]), /no-rejected\.jsonl:1: .*'rejected'/);
    expectFailure(run(["--data", pairs, "--beta", "0"]), /--beta must be > 0/);
    expectFailure(run(["--data", txt, "--data", alpaca]), /--data given twice/);
  });
});
