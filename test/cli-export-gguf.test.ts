/**
 * `ortrl export gguf` from the command line: the model, a GGUF LoRA adapter, the Ollama Modelfile beside them, and
 * every refusal (unsupported architecture, tokenizer llama.cpp cannot take, adapter of another base, existing or
 * input files as the target, a failing disk) leaving nothing at the target.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as F from "@ortrl/core";
import { REPO_ROOT, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";
import { saveNonZeroAdapter } from "./helpers/lora-adapter.js";
import { makeBpeChatModel } from "./helpers/bpe-chat-model.js";
import { llamaCpp, llamaCppGreedy } from "./helpers/llama-cpp.js";

const STORIES = join(SHARED, "models/stories260K-hf");
const FAIL_WRITES = join(REPO_ROOT, "test/helpers/fail-writes.mjs");
let tmp: string;
let chatModel: string;
let adapter: string;
const json = (r: { stdout: string }) => JSON.parse(r.stdout.trim().split("\n").at(-1)!);

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-export-"));
  chatModel = join(tmp, "chat-model");
  await makeBpeChatModel(chatModel);
  // A LoRA adapter on stories260K with non-zero lora_B (a fresh one would change nothing).
  const m = await F.loadPretrained(STORIES);
  adapter = join(tmp, "adapter");
  saveNonZeroAdapter(adapter, m, STORIES, { targetModules: ["q_proj", "k_proj", "v_proj"], seed: 3, value: (rng) => rng.normal() * 0.3 });
});

describe("ortrl export gguf", () => {
  it("writes a ChatML model with its Modelfile (FROM, TEMPLATE, SYSTEM, stop) that llama.cpp loads", async () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    const r = ortrl(["export", "gguf", "--model", chatModel, "--output", join(dir, "model.gguf"), "--outtype", "q8_0", "--ollama"]);
    expectOk(r);
    expect(json(r)).toMatchObject({ output: join(dir, "model.gguf"), outtype: "q8_0", format: "gguf", modelfile: join(dir, "Modelfile") });
    const mf = readFileSync(join(dir, "Modelfile"), "utf8");
    expect(mf).toMatch(/^FROM \.\/model\.gguf$/m);
    expect(mf).toContain("<|im_start|>");
    expect(mf).toMatch(/^PARAMETER stop "?<\|im_end\|>"?$/m);
    expect(mf).toMatch(/^SYSTEM .*You are a helpful AI assistant named SmolLM/m);
    expect(readdirSync(dir).sort()).toEqual(["Modelfile", "model.gguf"]);
    expect((await llamaCppGreedy(join(dir, "model.gguf"), [1, 20, 30], 4)).length).toBe(4);
  });

  it("--format gguf-lora --ollama writes the adapter, base.gguf and a Modelfile with ADAPTER; llama.cpp applies it", async () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    const r = ortrl(["export", "gguf", "--model", STORIES, "--adapter", adapter, "--format", "gguf-lora", "--output", join(dir, "adapter.gguf"), "--ollama"]);
    expectOk(r);
    expect(readdirSync(dir).sort()).toEqual(["Modelfile", "adapter.gguf", "base.gguf"]);
    const mf = readFileSync(join(dir, "Modelfile"), "utf8");
    expect(mf).toMatch(/^FROM \.\/base\.gguf$/m);
    expect(mf).toMatch(/^ADAPTER \.\/adapter\.gguf$/m);
    const prompt = [1, 403, 407, 261];
    const withLora = await llamaCppGreedy(join(dir, "base.gguf"), prompt, 16, [join(dir, "adapter.gguf")]);
    expect(withLora).not.toEqual(await llamaCppGreedy(join(dir, "base.gguf"), prompt, 16));
  });

  it("a plain GPT-2 byte-level pre-tokenizer is written as llama.cpp's 'gpt-2' and tokenizes as ortrl does; --chat-template goes into the GGUF", async () => {
    const gpt2 = join(tmp, "gpt2-layout");
    cpSync(chatModel, gpt2, { recursive: true });
    const tok = JSON.parse(readFileSync(join(chatModel, "tokenizer.json"), "utf8"));
    writeFileSync(join(gpt2, "tokenizer.json"), JSON.stringify({ ...tok, pre_tokenizer: tok.pre_tokenizer.pretokenizers[1] }));
    const dir = mkdtempSync(join(tmp, "o-"));
    const tpl = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
    expectOk(ortrl(["export", "gguf", "--model", gpt2, "--output", join(dir, "m.gguf"), "--outtype", "f32", "--chat-template", tpl]));
    const model = await (await llamaCpp()).loadModel({ modelPath: join(dir, "m.gguf"), vocabOnly: true });
    try {
      expect((model.fileInfo.metadata.tokenizer.ggml as unknown as Record<string, unknown>).pre).toBe("gpt-2");
      expect(model.fileInfo.metadata.tokenizer.chat_template).toBe(tpl);
      const hf = await F.Tokenizer.fromDir(gpt2);
      const text = "Numbers 12345 and words: it's   fine.\n<|im_start|>user";
      expect([...model.tokenize(text, true)]).toEqual(hf.encode(text, { addSpecialTokens: false }));
    } finally {
      await model.dispose();
    }
  });

  it("refuses an --output that is a file --ollama writes beside it", () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--output", join(dir, "Modelfile"), "--ollama"]), /is the Modelfile that --ollama writes beside it/);
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--adapter", adapter, "--format", "gguf-lora", "--output", join(dir, "base.gguf"), "--ollama"]), /is the base\.gguf that --ollama writes/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses an existing output unless --overwrite, and files of the model directory", () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    const out = join(dir, "m.gguf");
    writeFileSync(out, "my file");
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--output", out]), /m\.gguf exists; pass --overwrite/);
    expect(readFileSync(out, "utf8")).toBe("my file");
    expectOk(ortrl(["export", "gguf", "--model", STORIES, "--output", out, "--overwrite"]));
    expect(readFileSync(out).subarray(0, 4).toString()).toBe("GGUF");
    const copy = join(tmp, "stories-copy");
    cpSync(STORIES, copy, { recursive: true });
    const r = ortrl(["export", "gguf", "--model", copy, "--output", join(copy, "model.safetensors"), "--overwrite"]);
    expectFailure(r, /model\.safetensors is a file of --model .*write the GGUF elsewhere/);
    expect(r.status).toBe(2);
  });

  it("usage errors: gguf-lora without --adapter, a quantized LoRA, an unknown outtype", () => {
    const out = join(tmp, "never.gguf");
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--format", "gguf-lora", "--output", out]), /--format gguf-lora needs --adapter/);
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--adapter", adapter, "--format", "gguf-lora", "--outtype", "q8_0", "--output", out]), /GGUF LoRA adapter is written as f32, f16 or bf16/);
    expectFailure(ortrl(["export", "gguf", "--model", STORIES, "--outtype", "q5_k", "--output", out]), /--outtype.*q5_k/);
    expect(existsSync(out)).toBe(false);
  });

  it("refuses an unsupported architecture, a tokenizer llama.cpp cannot take, an adapter of another base", () => {
    const qwen = join(tmp, "qwen");
    cpSync(STORIES, qwen, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(STORIES, "config.json"), "utf8"));
    writeFileSync(join(qwen, "config.json"), JSON.stringify({ ...cfg, architectures: ["Qwen2ForCausalLM"], model_type: "qwen2" }));
    const out = join(tmp, "bad.gguf");
    expectFailure(ortrl(["export", "gguf", "--model", qwen, "--output", out]), /qwen\/config\.json: architectures \["Qwen2ForCausalLM"\]: GGUF export supports LlamaForCausalLM and MistralForCausalLM/);

    const oddTok = join(tmp, "odd-tokenizer");
    cpSync(chatModel, oddTok, { recursive: true });
    const tok = JSON.parse(readFileSync(join(chatModel, "tokenizer.json"), "utf8"));
    writeFileSync(join(oddTok, "tokenizer.json"), JSON.stringify({ ...tok, pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Punctuation" }, tok.pre_tokenizer.pretokenizers[1]] } }));
    expectFailure(ortrl(["export", "gguf", "--model", oddTok, "--output", out]), /odd-tokenizer\/tokenizer\.json: pre_tokenizer .*Punctuation.* matches no llama\.cpp pre-tokenizer/);

    expectFailure(ortrl(["export", "gguf", "--model", chatModel, "--adapter", adapter, "--output", out]), /adapter/);
    expectFailure(ortrl(["export", "gguf", "--model", chatModel, "--adapter", adapter, "--format", "gguf-lora", "--output", out]), /adapter/);
    expect(existsSync(out)).toBe(false);
  });

  it("a disk that fails mid-write leaves no file at the target and no temporary file", () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    const r = ortrl(["export", "gguf", "--model", STORIES, "--output", join(dir, "model.gguf")], { env: { NODE_OPTIONS: `--import ${FAIL_WRITES}`, ORTRL_FAIL_WRITES: "model\\.gguf" } });
    expectFailure(r, /model\.gguf.*no space left on device/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the Modelfile is checked before any GGUF is written: an untranslatable chat template writes nothing", () => {
    const dir = mkdtempSync(join(tmp, "o-"));
    const tpl = join(tmp, "odd.jinja");
    writeFileSync(tpl, "{% for m in messages %}<<{{ m.role }}>> {{ m.content }}\n{% endfor %}");
    expectFailure(ortrl(["export", "gguf", "--model", chatModel, "--output", join(dir, "model.gguf"), "--ollama", "--chat-template", tpl]), /odd\.jinja/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

afterAll(async () => {
  await (await llamaCpp()).dispose();
});
