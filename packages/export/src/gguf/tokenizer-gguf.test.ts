import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED_DIR } from "@ortrl/core/testing";
import type { GgufValue } from "./gguf-file.js";
import { preTokenizerName, tokenizerMetadata } from "./tokenizer-gguf.js";

const STORIES = join(SHARED_DIR, "models/stories260K-hf");
const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };

describe("tokenizer.ggml.* metadata", () => {
  it("stories260K: SentencePiece-style 'llama' tokenizer, scores by merge rank, byte/control/unknown types", async () => {
    const m = new Map<string, GgufValue>(await tokenizerMetadata(STORIES, 512));
    const v = <T>(k: string) => (m.get(k) as unknown as { value: T }).value;
    expect(v<string>("tokenizer.ggml.model")).toBe("llama");
    expect(v<string>("tokenizer.ggml.pre")).toBe("default");
    const tokens = v<string[]>("tokenizer.ggml.tokens");
    const types = v<Int32Array>("tokenizer.ggml.token_type");
    const scores = v<Float32Array>("tokenizer.ggml.scores");
    expect(tokens).toHaveLength(512);
    expect([tokens[0], types[0]]).toEqual(["<unk>", 2]);
    expect([tokens[1], types[1]]).toEqual(["<s>", 3]);
    expect([tokens[13], types[13]]).toEqual(["<0x0A>", 6]);
    const tok = JSON.parse(readFileSync(join(STORIES, "tokenizer.json"), "utf8"));
    const [a, b] = (tok.model.merges[0] as string | string[]) instanceof Array ? tok.model.merges[0] : tok.model.merges[0].split(" ");
    const first = tokens.indexOf(a + b);
    expect(scores[first]).toBe(-0); // the first merge's result scores highest
    expect(v<number>("tokenizer.ggml.bos_token_id")).toBe(1);
    expect(v<number>("tokenizer.ggml.eos_token_id")).toBe(2);
    expect(v<boolean>("tokenizer.ggml.add_bos_token")).toBe(true);
    expect(v<boolean>("tokenizer.ggml.add_space_prefix")).toBe(true);
    expect(m.has("tokenizer.ggml.merges")).toBe(false);
  });

  it("warns that stories260K's space clean-up is not applied by llama.cpp; takes a chat template override", async () => {
    const warnings: string[] = [];
    const m = new Map<string, GgufValue>(await tokenizerMetadata(STORIES, 512, { warnings, chatTemplate: "{{ messages }}" }));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/tokenizer.json: the normalizer collapses runs of spaces.*llama.cpp does not/);
    expect(m.get("tokenizer.chat_template")).toEqual({ type: "string", value: "{{ messages }}" });
  });

  it("add_bos_token follows what ortrl's encode adds, also without tokenizer_config.json (the post-processor's BOS)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tok-"));
    for (const f of ["tokenizer.json", "config.json"]) cpSync(join(STORIES, f), join(dir, f));
    const m = new Map<string, GgufValue>(await tokenizerMetadata(dir, 512));
    expect(m.get("tokenizer.ggml.add_bos_token")).toEqual({ type: "bool", value: true });
    expect(m.get("tokenizer.ggml.add_eos_token")).toEqual({ type: "bool", value: false });
  });

  it("pads to the model's vocab_size with unused [PAD<i>] tokens; refuses a tokenizer larger than it", async () => {
    const m = new Map<string, GgufValue>(await tokenizerMetadata(STORIES, 520));
    const tokens = (m.get("tokenizer.ggml.tokens") as unknown as { value: string[] }).value;
    expect(tokens[519]).toBe("[PAD519]");
    expect((m.get("tokenizer.ggml.token_type") as unknown as { value: Int32Array }).value[519]).toBe(5);
    await expect(tokenizerMetadata(STORIES, 500)).rejects.toThrow(/tokenizer.json: token id 511 is beyond the model's vocab_size 500/);
  });

  it("names byte-level pre-tokenizers as llama.cpp does and refuses others", () => {
    expect(preTokenizerName(byteLevel)).toBe("gpt-2");
    expect(preTokenizerName({ type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: true }, byteLevel] })).toBe("smollm");
    expect(preTokenizerName({ type: "Sequence", pretokenizers: [{ type: "Digits", individual_digits: false }, byteLevel] })).toBeNull();
    expect(preTokenizerName({ ...byteLevel, add_prefix_space: true })).toBeNull();
    expect(preTokenizerName({ type: "Whitespace" })).toBeNull();
  });

  it("refuses tokenizers llama.cpp cannot take, naming tokenizer.json and the field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tok-"));
    cpSync(STORIES, dir, { recursive: true });
    const tok = JSON.parse(readFileSync(join(STORIES, "tokenizer.json"), "utf8"));
    const write = (t: unknown) => writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(t));
    write({ ...tok, model: { ...tok.model, byte_fallback: false }, pre_tokenizer: { type: "Whitespace" }, normalizer: null, decoder: { type: "ByteLevel" } });
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/tokenizer.json: pre_tokenizer \{"type":"Whitespace"\} matches no llama.cpp pre-tokenizer/);
    write({ ...tok, model: { ...tok.model, byte_fallback: false }, pre_tokenizer: byteLevel });
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/tokenizer.json: normalizer .*applies no normalizer/);
    write({ ...tok, pre_tokenizer: { type: "Whitespace" }, normalizer: null });
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/needs SentencePiece's Metaspace/);
    write({ ...tok, normalizer: { type: "Sequence", normalizers: [{ type: "Lowercase" }] } });
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/tokenizer.json: normalizer step \{"type":"Lowercase"\}: llama.cpp's SentencePiece tokenizer has no such step/);
    writeFileSync(join(dir, "tokenizer.json"), "{\"model\": {");
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/tokenizer.json: not valid JSON/);
    write({ ...tok, model: { type: "WordPiece", vocab: { a: 0 } } });
    await expect(tokenizerMetadata(dir, 512)).rejects.toThrow(/tokenizer.json: model.type "WordPiece": GGUF export supports BPE tokenizers/);
  });
});
