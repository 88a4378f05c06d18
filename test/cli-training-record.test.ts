/**
 * `ortrl_training.json` and `generate --format` end to end through the built binary: a short Alpaca SFT run records
 * how it was trained, and `generate --adapter OUT` then wraps the prompt in the same Alpaca template (with one
 * stderr note; `--format raw` turns it off); a run with `--chat-template FILE` on conversations saves the template
 * as chat_template.jinja, which `generate --format chat` and `merge` use; bad input is one error line.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliResult, SHARED, expectFailure, expectOk, ortrl } from "./helpers/cli.js";

const MODEL = join(SHARED, "models/stories260K-hf");
const ALPACA = join(SHARED, "data/alpaca-en-demo/alpaca_en_demo.json");
/** SFT's Alpaca template without input (stanford_alpaca's PROMPT_DICT), written out to check the record. */
const TEMPLATE = "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n";
const NOTE = /formatting the prompt as alpaca, as .*ortrl_training\.json records; --format raw to turn off/;
const CHAT = "{% for m in messages %}<{{ m.role }}> {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}";
const PROMPT = "Name a color.";

let tmp = "";
let alpacaOut = "";
let chatOut = "";
let template = "";

const train = (args: string[]): CliResult =>
  ortrl(["train", "sft", "--model", MODEL, "--lora-r", "4", "--max-steps", "2", "--max-seq-length", "128", "--per-device-train-batch-size", "2", "--logging-steps", "1", ...args], { timeoutMs: 120_000 });
const generate = (args: string[]): CliResult => ortrl(["generate", "--model", MODEL, "--temperature", "0", "--max-new-tokens", "12", ...args], { timeoutMs: 60_000 });
const record = (dir: string) => JSON.parse(readFileSync(join(dir, "ortrl_training.json"), "utf8"));

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "ortrl-cli-record-"));
  const data = join(tmp, "alpaca16.json");
  writeFileSync(data, JSON.stringify(JSON.parse(readFileSync(ALPACA, "utf8")).slice(0, 16)));
  alpacaOut = join(tmp, "alpaca");
  const prompts = join(tmp, "prompts.txt");
  writeFileSync(prompts, `${PROMPT}\n`);
  expectOk(train(["--data", data, "--output-dir", alpacaOut, "--generate-prompts", prompts, "--generate-max-new-tokens", "12"]));
  const chats = join(tmp, "chats.jsonl");
  const convo = (i: number) => ({ messages: [{ role: "user", content: `Count to ${i}.` }, { role: "assistant", content: Array.from({ length: i }, (_, k) => k + 1).join(" ") }] });
  writeFileSync(chats, Array.from({ length: 8 }, (_, i) => JSON.stringify(convo(i + 1))).join("\n") + "\n");
  template = join(tmp, "chat.jinja");
  writeFileSync(template, CHAT);
  chatOut = join(tmp, "chat");
  expectOk(train(["--data", chats, "--chat-template", template, "--output-dir", chatOut]));
}, 300_000);

describe("ortrl_training.json", () => {
  it("records an Alpaca SFT run: method, data format, template, base model, version, arguments", () => {
    const r = record(alpacaOut);
    expect(r).toMatchObject({ method: "sft", data_format: "alpaca", dataset_formats: { alpaca: 16 }, prompt_format: "alpaca", prompt_template: TEMPLATE, base_model: resolve(MODEL), adapter: null });
    expect(r.prompt_template_with_input).toContain("### Input:\n{input}\n\n");
    expect(r.ortrl_version).toBe(JSON.parse(readFileSync("packages/cli/package.json", "utf8")).version);
    expect(r.arguments).toMatchObject({ max_steps: 2, lora_r: 4, max_seq_length: 128, output_dir: alpacaOut });
  });

  it("saves a --chat-template beside the adapter as chat_template.jinja and records it", () => {
    expect(readFileSync(join(chatOut, "chat_template.jinja"), "utf8")).toBe(CHAT);
    expect(record(chatOut)).toMatchObject({ method: "sft", data_format: "messages", prompt_format: "chat", prompt_template: CHAT, chat_template_source: template });
  });
});

describe("ortrl generate --format", () => {
  it("wraps the prompt in the Alpaca template the adapter was trained with, saying so once", () => {
    const detected = generate(["--adapter", alpacaOut, "--prompt", PROMPT]);
    expectOk(detected);
    expect(detected.stderr.match(new RegExp(NOTE.source, "g"))).toHaveLength(1);
    const wrapped = generate(["--adapter", alpacaOut, "--prompt", TEMPLATE.replace("{instruction}", PROMPT), "--format", "raw"]);
    expectOk(wrapped);
    expect(wrapped.stderr).not.toMatch(NOTE);
    expect(detected.stdout).toBe(wrapped.stdout);
    expect(generate(["--adapter", alpacaOut, "--prompt", PROMPT, "--format", "alpaca"]).stdout).toBe(detected.stdout);
  });

  it("--generate-prompts samples are formatted as training formats (Alpaca): before training and at the end", () => {
    const samples = readFileSync(join(alpacaOut, "samples.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; completion: string });
    expect(samples.map((x) => x.step)).toEqual([0, 2]);
    expect(samples[1]!.completion + "\n").toBe(generate(["--adapter", alpacaOut, "--prompt", PROMPT]).stdout);
    expect(samples[0]!.completion + "\n").toBe(generate(["--prompt", PROMPT, "--format", "alpaca"]).stdout);
  });

  it("--format raw sends the prompt as is", () => {
    const raw = generate(["--adapter", alpacaOut, "--prompt", PROMPT, "--format", "raw"]);
    expectOk(raw);
    expect(raw.stderr).not.toMatch(/formatting the prompt/);
    const plain = generate(["--prompt", PROMPT]); // the base model has no record: raw, no note
    expectOk(plain);
    expect(plain.stderr).not.toMatch(/formatting the prompt/);
  });

  it("--format chat uses the chat template saved with the adapter (the base model has none)", () => {
    const saved = generate(["--adapter", chatOut, "--prompt", PROMPT, "--format", "chat"]);
    expectOk(saved);
    const given = generate(["--adapter", chatOut, "--prompt", PROMPT, "--chat", "--chat-template", template]);
    expectOk(given);
    expect(saved.stdout).toBe(given.stdout);
    const detected = generate(["--adapter", chatOut, "--prompt", PROMPT]);
    expectOk(detected);
    expect(detected.stderr).toMatch(/formatting the prompt as chat, as .*ortrl_training\.json records/);
    expect(detected.stdout).toBe(saved.stdout);
    expectFailure(generate(["--prompt", PROMPT, "--format", "chat"]), /has no chat_template: pass --chat-template FILE/);
  });

  it("ortrl eval --adapter uses the chat template saved with the adapter (the base model has none)", () => {
    const chats = join(tmp, "chats.jsonl");
    const r = ortrl(["eval", "--model", MODEL, "--adapter", chatOut, "--data", chats, "--max-length", "128"], { timeoutMs: 60_000 });
    expectOk(r);
    expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).format).toBe("sft");
  });

  it("merge keeps the chat template the adapter was trained with", () => {
    const merged = join(tmp, "chat-merged");
    expectOk(ortrl(["merge", "--model", MODEL, "--adapter", chatOut, "--output-dir", merged], { timeoutMs: 60_000 }));
    expect(readFileSync(join(merged, "chat_template.jinja"), "utf8")).toBe(CHAT);
    const r = ortrl(["generate", "--model", merged, "--temperature", "0", "--max-new-tokens", "12", "--prompt", PROMPT, "--format", "chat"], { timeoutMs: 60_000 });
    expectOk(r);
    expect(r.stdout).toBe(generate(["--adapter", chatOut, "--prompt", PROMPT, "--format", "chat"]).stdout);
  });

  it("refuses an unknown --format, --chat with another --format, and a corrupt ortrl_training.json (one error line)", () => {
    const bad = generate(["--prompt", PROMPT, "--format", "xml"]);
    expectFailure(bad, /--format expects one of alpaca, chat, raw, got 'xml'/);
    expect(bad.status).toBe(2);
    expectFailure(generate(["--prompt", PROMPT, "--chat", "--format", "raw"]), /--chat means --format chat; it contradicts --format raw/);
    const corrupt = join(tmp, "corrupt");
    cpSync(alpacaOut, corrupt, { recursive: true });
    writeFileSync(join(corrupt, "ortrl_training.json"), "{ not json");
    expectFailure(generate(["--adapter", corrupt, "--prompt", PROMPT]), /corrupt[/\\]ortrl_training\.json: invalid JSON/);
    expectOk(generate(["--adapter", corrupt, "--prompt", PROMPT, "--format", "raw"])); // an explicit format does not read it
  });
});
