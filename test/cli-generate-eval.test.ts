/** `ortrl generate` and `ortrl eval` on the real stories260K model, and their bad-input errors. */
import { mkdtempSync, writeFileSync, cpSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ortrl, SHARED } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const expected = JSON.parse(readFileSync(join(SHARED, "fixtures/stories260K/expected.json"), "utf8"));
const tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-"));

describe("ortrl generate", () => {
  it("greedy 100 tokens from BOS prints the reference text", () => {
    const r = ortrl(["generate", "--model", MODEL, "--prompt", "", "--max-new-tokens", "100", "--temperature", "0"]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected.greedy_from_bos_text + "\n");
  });
  it("is reproducible with a seed", () => {
    const args = ["generate", "--model", MODEL, "--prompt", "Once upon a time", "--max-new-tokens", "20", "--temperature", "0.9", "--top-p", "0.9", "--seed", "5"];
    const a = ortrl(args);
    expect(a.status).toBe(0);
    expect(ortrl(args).stdout).toBe(a.stdout);
  });
  it("fails with one line naming the problem", () => {
    const r = ortrl(["generate", "--model", join(tmp, "missing"), "--prompt", "x"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^ortrl: error: model directory .*missing does not exist\n$/);
    const chat = ortrl(["generate", "--model", MODEL, "--prompt", "x", "--chat"]);
    expect(chat.status).not.toBe(0);
    expect(chat.stderr).toMatch(/no chat_template/);
  });
  it("rejects an unknown architecture naming config.json", () => {
    const dir = join(tmp, "gpt2");
    cpSync(MODEL, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, architectures: ["GPT2LMHeadModel"], model_type: "gpt2" }));
    const r = ortrl(["generate", "--model", dir, "--prompt", "x"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/config\.json.*GPT2LMHeadModel/);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("ortrl eval", () => {
  it("reproduces the reference sentence loss", () => {
    const data = join(tmp, "one.jsonl");
    writeFileSync(data, JSON.stringify({ text: expected.text }) + "\n");
    const r = ortrl(["eval", "--model", MODEL, "--data", data]);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).slice(0, 3)).toEqual(["loss", "perplexity", "tokens"]);
    expect(out).toMatchObject({ format: "text", documents: 1, windows: 1 });
    expect(out.tokens).toBe(expected.input_ids.length - 1);
    expect(Math.abs(out.loss - expected.loss)).toBeLessThan(1e-4 * expected.loss);
    expect(Math.abs(out.perplexity - Math.exp(expected.loss))).toBeLessThan(1e-3);
  });
  it("weights records by tokens and scores long records in --max-length windows, never truncating", () => {
    const data = join(tmp, "two.jsonl");
    writeFileSync(data, [expected.text, "Lily and Max went to the park to play."].map((t) => JSON.stringify({ text: t })).join("\n") + "\n");
    const full = JSON.parse(ortrl(["eval", "--model", MODEL, "--data", data]).stdout);
    const cut = JSON.parse(ortrl(["eval", "--model", MODEL, "--data", data, "--max-length", "8"]).stdout);
    // Disjoint 8-token windows: every token is in a window; each window's first token has no context.
    expect(cut.tokens + cut.unscored).toBe(full.tokens + full.unscored);
    expect(cut.unscored).toBe(cut.windows);
    expect(full.windows).toBe(2);
    expect(cut.windows).toBeGreaterThan(2);
  });
  it("names the file and line of malformed JSONL and of a record without text", () => {
    const bad = join(tmp, "bad.jsonl");
    writeFileSync(bad, '{"text": "ok"}\n{"text": oops}\n');
    const r = ortrl(["eval", "--model", MODEL, "--data", bad]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^ortrl: error: .*bad\.jsonl:2: invalid JSON/);
    const notext = join(tmp, "notext.jsonl");
    writeFileSync(notext, '{"text": "ok"}\n\n{"prompt": "x"}\n');
    const r2 = ortrl(["eval", "--model", MODEL, "--data", notext]);
    expect(r2.stderr).toMatch(/notext\.jsonl:3: record has no 'text' field/);
    const r3 = ortrl(["eval", "--model", MODEL, "--data", join(tmp, "nope.jsonl")]);
    expect(r3.stderr).toMatch(/nope\.jsonl: file not found/);
  });
});
