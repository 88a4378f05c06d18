/**
 * Ollama Modelfiles from real chat templates. The key check: the TEMPLATE, rendered by Go's real
 * text/template the way Ollama fills it (go/ollama-prompt, built with the `go` command: these tests fail
 * when go is missing), gives exactly the text the model's Jinja template renders with
 * add_generation_prompt, BOS aside when the GGUF adds it.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type ChatMessage, Tokenizer } from "@ortrl/core";
import { errorOf, errorOfAsync, SHARED_DIR, STORIES_DIR } from "@ortrl/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildModelfile,
  type ChatTemplateFamilyName,
  loadModelfile,
  type ModelfileCommand,
  modelfileLine,
  type ModelfileOptions,
  type OllamaModelfile,
  parseModelfile,
  renderOllamaPrompt,
} from "./index.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(HERE, "fixtures");
const GO_MAIN = path.join(HERE, "go", "ollama-prompt", "main.go");
const PHI3 = path.join(SHARED_DIR, "data", "phi3-mini-tokenizer");
const LLAMA2 = path.join(SHARED_DIR, "data", "llama2-tokenizer");
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");

let tmp: string;
let goBinary: string;

/** The go command's environment; a build cache in the temp folder when the usual one has no home. */
function goEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  if (!env.GOCACHE && !env.HOME && !env.XDG_CACHE_HOME) env.GOCACHE = path.join(os.tmpdir(), "ortrl-go-build-cache");
  return env;
}

interface GoResult {
  commands: ModelfileCommand[] | null;
  prompt: string;
  error?: string;
}

/** Parses each Modelfile with the Go helper and, when `messages` is given, renders the chat prompt as Ollama does. */
function goRender(cases: Array<{ modelfile: string; messages?: ChatMessage[] }>): GoResult[] {
  const out = execFileSync(goBinary, [], { input: JSON.stringify({ cases }), encoding: "utf8", maxBuffer: 64 << 20 });
  return JSON.parse(out) as GoResult[];
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-modelfile-"));
  goBinary = path.join(tmp, "ollama-prompt");
  // No skip: without go these tests fail (CI installs golang-go).
  execFileSync("go", ["build", "-o", goBinary, GO_MAIN], { env: goEnv(), stdio: "pipe", timeout: 300_000 });
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * A model folder with stories260K's tokenizer.json plus the given special tokens as added tokens, the
 * given tokenizer_config.json and, optionally, generation_config.json and chat_template.jinja.
 * @returns the folder and the ids of the added tokens.
 */
function modelDir(
  name: string,
  o: { config: Record<string, unknown>; tokens?: string[]; generation?: (ids: Record<string, number>) => Record<string, unknown>; jinjaFile?: string },
): { dir: string; ids: Record<string, number> } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const tj = JSON.parse(fs.readFileSync(path.join(STORIES_DIR, "tokenizer.json"), "utf8"));
  const ids: Record<string, number> = {};
  let next = Math.max(...(Object.values(tj.model.vocab) as number[]), ...tj.added_tokens.map((t: { id: number }) => t.id)) + 1;
  const specials = ["bos_token", "eos_token", "unk_token", "pad_token"].map((k) => o.config[k]).filter((v): v is string => typeof v === "string");
  for (const t of [...specials, ...(o.tokens ?? [])]) {
    const known = tj.added_tokens.find((a: { content: string }) => a.content === t);
    if (known) ids[t] = known.id;
    else if (!(t in ids)) {
      ids[t] = next++;
      tj.added_tokens.push({ id: ids[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
  }
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tj));
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(o.config));
  if (o.generation) fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify(o.generation(ids)));
  if (o.jinjaFile !== undefined) fs.writeFileSync(path.join(dir, "chat_template.jinja"), o.jinjaFile);
  return { dir, ids };
}

const SYSTEM: ChatMessage = { role: "system", content: "You answer in French.\nKeep it short." };
const TWO_TURNS: ChatMessage[] = [
  { role: "user", content: "Name a colour of the sky." },
  { role: "assistant", content: 'Bleu, as in "ciel bleu".' },
  { role: "user", content: "And at night? Write {{ .Prompt }}, 'single' & \"double\" quotes, <b>tags</b> and a backslash \\ as they are." },
];
const U2 = TWO_TURNS[2]!.content;

/** What the model saw in training for `messages`: the Jinja rendering with add_generation_prompt, less a leading BOS the GGUF adds. */
function jinjaPrompt(tok: Tokenizer, messages: ChatMessage[], chatTemplate?: string, addBos = tok.addBosToken): string {
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true, ...(chatTemplate ? { chatTemplate } : {}) });
  return addBos && tok.bosToken && text.startsWith(tok.bosToken) ? text.slice(tok.bosToken.length) : text;
}

interface Exported {
  name: string;
  family: ChatTemplateFamilyName;
  tok: Tokenizer;
  chatTemplate?: string;
  modelfile: OllamaModelfile;
  /** The model's template refuses system messages: the TEMPLATE drops them. */
  dropsSystem?: boolean;
}

async function exported(name: string, family: ChatTemplateFamilyName, opts: Omit<ModelfileOptions, "ggufPath">, chatTemplate?: string, dropsSystem?: boolean): Promise<Exported> {
  const modelfile = await loadModelfile({ ggufPath: "./model.gguf", ...opts });
  return { name, family, tok: await Tokenizer.fromDir(opts.modelDir), chatTemplate, modelfile, dropsSystem };
}

describe("Modelfile TEMPLATE rendered by Go text/template equals the Jinja chat template", () => {
  let models: Exported[];
  beforeAll(async () => {
    const smol = modelDir("smollm2", {
      config: { bos_token: "<|im_start|>", eos_token: "<|im_end|>", unk_token: "<|endoftext|>", pad_token: "<|im_end|>", add_bos_token: false },
      generation: (ids) => ({ bos_token_id: ids["<|im_start|>"], eos_token_id: ids["<|im_end|>"] }),
      jinjaFile: fixture("smollm2-135m-instruct.jinja"),
    });
    const llama3 = modelDir("llama3", {
      config: { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>", add_bos_token: true, chat_template: fixture("llama3-8b-instruct.jinja") },
      tokens: ["<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>"],
      generation: (ids) => ({ bos_token_id: ids["<|begin_of_text|>"], eos_token_id: [ids["<|end_of_text|>"], ids["<|eot_id|>"]], do_sample: true, temperature: 0.6, top_p: 0.9, max_length: 4096 }),
    });
    const mistral1 = modelDir("mistral-v0.1", {
      config: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", add_bos_token: true, chat_template: fixture("mistral-7b-instruct-v0.1.jinja") },
    });
    const mistral2 = modelDir("mistral-v0.2", {
      config: { bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>", add_bos_token: true, chat_template: fixture("mistral-7b-instruct-v0.2.jinja") },
    });
    const llama2Template = path.join(FIXTURES, "llama2-7b-chat.jinja");
    models = [
      await exported("SmolLM2 (chat_template.jinja)", "chatml", { modelDir: smol.dir }),
      await exported("Llama 3", "llama3", { modelDir: llama3.dir }),
      await exported("Phi-3 (shared/data/phi3-mini-tokenizer)", "phi3", { modelDir: PHI3 }),
      await exported("Mistral v0.1", "mistral", { modelDir: mistral1.dir }, undefined, true),
      await exported("Mistral v0.2", "mistral", { modelDir: mistral2.dir }),
      await exported("Llama 2 chat (shared/data/llama2-tokenizer)", "llama2", { modelDir: LLAMA2, chatTemplate: llama2Template }, fixture("llama2-7b-chat.jinja")),
    ];
  });

  it("finds each model's family", () => {
    expect(models.map((m) => [m.name, m.modelfile.family])).toEqual(models.map((m) => [m.name, m.family]));
  });

  it("renders system?, user, assistant, user + generation prompt exactly as the Jinja template (Go text/template, Ollama's chat filling)", () => {
    const convs = [TWO_TURNS, [SYSTEM, ...TWO_TURNS], [TWO_TURNS[0]!]];
    const cases = models.flatMap((m) => convs.map((messages) => ({ m, messages })));
    const go = goRender(cases.map(({ m, messages }) => ({ modelfile: m.modelfile.text, messages })));
    cases.forEach(({ m, messages }, i) => {
      const where = `${m.name}, ${messages.map((x) => x.role).join("/")}`;
      expect(go[i]!.error, where).toBeUndefined();
      // A template without a system role raises on one; Ollama's TEMPLATE leaves it out.
      const trained = m.dropsSystem ? messages.filter((x) => x.role !== "system") : messages;
      expect(go[i]!.prompt, where).toBe(jinjaPrompt(m.tok, trained, m.chatTemplate));
      // The JS mirror used at export time agrees with Go.
      expect(renderOllamaPrompt(m.modelfile.format!, messages, m.modelfile.system), where).toBe(go[i]!.prompt);
    });
    // Each family's prompt for the system conversation, spelled out (SmolLM2's with its default system message).
    const prompt = (name: string, conv: number) => go[models.findIndex((m) => m.name.startsWith(name)) * convs.length + conv]!.prompt;
    expect(prompt("SmolLM2", 0)).toBe(
      "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n" +
        "<|im_start|>user\nName a colour of the sky.<|im_end|>\n" +
        '<|im_start|>assistant\nBleu, as in "ciel bleu".<|im_end|>\n' +
        `<|im_start|>user\n${U2}<|im_end|>\n` +
        "<|im_start|>assistant\n",
    );
    expect(prompt("SmolLM2", 1)).toMatch(/^<\|im_start\|>system\nYou answer in French\.\nKeep it short\.<\|im_end\|>\n<\|im_start\|>user\n/);
    expect(prompt("Llama 3", 1)).toBe(
      "<|start_header_id|>system<|end_header_id|>\n\nYou answer in French.\nKeep it short.<|eot_id|>" +
        "<|start_header_id|>user<|end_header_id|>\n\nName a colour of the sky.<|eot_id|>" +
        '<|start_header_id|>assistant<|end_header_id|>\n\nBleu, as in "ciel bleu".<|eot_id|>' +
        `<|start_header_id|>user<|end_header_id|>\n\n${U2}<|eot_id|>` +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(prompt("Phi-3", 1)).toBe(
      "<|system|>\nYou answer in French.\nKeep it short.<|end|>\n<|user|>\nName a colour of the sky.<|end|>\n" +
        `<|assistant|>\nBleu, as in "ciel bleu".<|end|>\n<|user|>\n${U2}<|end|>\n<|assistant|>\n`,
    );
    expect(prompt("Mistral v0.1", 0)).toBe(
      `[INST] Name a colour of the sky. [/INST]Bleu, as in "ciel bleu".</s>[INST] ${U2} [/INST]`,
    );
    expect(prompt("Mistral v0.2", 1)).toBe(
      ' [INST] You answer in French.\nKeep it short.\n\nName a colour of the sky. [/INST] Bleu, as in "ciel bleu".</s>' +
        ` [INST] ${U2} [/INST]`,
    );
    expect(prompt("Llama 2", 1)).toBe(
      "[INST] <<SYS>>\nYou answer in French.\nKeep it short.\n<</SYS>>\n\nName a colour of the sky. [/INST]" +
        ` Bleu, as in "ciel bleu". </s><s>[INST] ${U2} [/INST]`,
    );
  });

  it("writes SmolLM2's Modelfile: comment, FROM, the ChatML TEMPLATE, its default SYSTEM, stops", () => {
    const smol = models[0]!.modelfile;
    expect(smol.text).toBe(
      [
        `# Modelfile for Ollama, written by ortrl from ${path.join(tmp, "smollm2")}; chat template family: ChatML`,
        "# Note: SYSTEM is the chat template's default system message, used when a conversation has none",
        "FROM ./model.gguf",
        'TEMPLATE """{{ range .Messages }}{{ if eq .Role "system" }}<|im_start|>system',
        "{{ .Content }}<|im_end|>",
        '{{ else if eq .Role "user" }}<|im_start|>user',
        "{{ .Content }}<|im_end|>",
        '{{ else if eq .Role "assistant" }}<|im_start|>assistant',
        "{{ .Content }}<|im_end|>",
        "{{ end }}{{ end }}<|im_start|>assistant",
        '"""',
        'SYSTEM """You are a helpful AI assistant named SmolLM, trained by Hugging Face"""',
        'PARAMETER stop "<|im_start|>"',
        'PARAMETER stop "<|im_end|>"',
        "",
      ].join("\n"),
    );
    // Go's parser port reads every command back as written.
    const [parsed] = goRender([{ modelfile: smol.text }]);
    expect(parsed!.commands).toEqual([
      { name: "model", args: "./model.gguf" },
      { name: "template", args: smol.template },
      { name: "system", args: "You are a helpful AI assistant named SmolLM, trained by Hugging Face" },
      { name: "stop", args: "<|im_start|>" },
      { name: "stop", args: "<|im_end|>" },
    ]);
    expect(parseModelfile(smol.text)).toEqual(parsed!.commands);
  });

  it("stops at each family's turn markers and every EOS token; sampling defaults only with do_sample", () => {
    const byFamily = (f: string) => models.find((m) => m.modelfile.family === f)!.modelfile;
    expect(byFamily("llama3").stop).toEqual(["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|end_of_text|>"]);
    expect(byFamily("phi3").stop).toEqual(["<|end|>", "<|user|>", "<|assistant|>", "<|system|>", "<|endoftext|>"]);
    expect(byFamily("llama2").stop).toEqual(["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>", "</s>"]);
    // Llama 3's generation_config: do_sample true, temperature 0.6, top_p 0.9 (no top_k, no repetition_penalty).
    const l3 = byFamily("llama3");
    expect(l3.parameters).toEqual({ temperature: 0.6, top_p: 0.9 });
    expect(l3.text).toContain('PARAMETER stop "<|end_of_text|>"\nPARAMETER temperature 0.6\nPARAMETER top_p 0.9\n');
    const [parsed] = goRender([{ modelfile: l3.text }]);
    expect(parsed!.commands!.filter((c) => !["model", "template"].includes(c.name))).toEqual([
      ...l3.stop.map((s) => ({ name: "stop", args: s })),
      { name: "temperature", args: "0.6" },
      { name: "top_p", args: "0.9" },
    ]);
    expect(byFamily("phi3").parameters).toEqual({});
  });

  it("BOS: a template starting with bos_token leaves it to the GGUF (add_bos_token), or writes it when the GGUF does not add it", async () => {
    const l3 = models.find((m) => m.family === "llama3")!;
    expect(l3.modelfile.template).not.toContain("<|begin_of_text|>");
    expect(l3.modelfile.notes).toContain(
      'the chat template starts with bos_token "<|begin_of_text|>"; the GGUF adds it (add_bos_token), so the TEMPLATE leaves it out',
    );
    const noBos = await loadModelfile({ ggufPath: "./model.gguf", modelDir: path.join(tmp, "llama3"), addBosToken: false });
    expect(noBos.template.startsWith("<|begin_of_text|>{{ range .Messages }}")).toBe(true);
    const [go] = goRender([{ modelfile: noBos.text, messages: [SYSTEM, ...TWO_TURNS] }]);
    expect(go!.prompt).toBe(jinjaPrompt(l3.tok, [SYSTEM, ...TWO_TURNS], undefined, false));
    expect(go!.prompt.startsWith("<|begin_of_text|><|start_header_id|>system")).toBe(true);
    // A template without BOS on a tokenizer whose GGUF adds one (Llama 2's, add_bos_token true): a note, not an error.
    const chatml = await loadModelfile({ ggufPath: "./model.gguf", modelDir: LLAMA2, chatTemplate: fixture("smollm2-135m-instruct.jinja") });
    expect(chatml.family).toBe("chatml");
    expect(chatml.text).toContain('\n# Note: the GGUF adds BOS "<s>" before every prompt (add_bos_token) although the chat template does not write one\n');
  });

  it("notes what Ollama cannot reproduce: trimmed contents (Llama 3, Llama 2), a template without a system role (Mistral v0.1)", () => {
    const trims = "the chat template trims whitespace around message contents, which a Go template cannot do: such whitespace reaches the model as it is";
    const noSystem = "the chat template has no system role, so this TEMPLATE leaves system messages out";
    expect(models.map((m) => [m.name, m.modelfile.notes.includes(trims), m.modelfile.notes.includes(noSystem)])).toEqual([
      ["SmolLM2 (chat_template.jinja)", false, false],
      ["Llama 3", true, false],
      ["Phi-3 (shared/data/phi3-mini-tokenizer)", false, false],
      ["Mistral v0.1", false, true],
      ["Mistral v0.2", false, false],
      ["Llama 2 chat (shared/data/llama2-tokenizer)", true, false],
    ]);
    expect(models[3]!.modelfile.text).toContain(`\n# Note: ${noSystem}\n`);
  });
});

describe("Modelfile edge cases", () => {
  it("refuses a chat template of no known family, naming it (file, first line) and the families tried", async () => {
    const madeUp = "{% for m in messages %}### {{ m['role'] }}:\n{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}### assistant:\n{% endif %}";
    const file = path.join(tmp, "made-up.jinja");
    fs.writeFileSync(file, madeUp);
    const err = await errorOfAsync(() => buildModelfile({ ggufPath: "./model.gguf", modelDir: PHI3, chatTemplate: file }));
    expect(err).toMatch(
      new RegExp(
        `^chat template ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: "\\{% for m in messages %\\}### \\{\\{ m\\['role'\\] \\}\\}:" is none of the chat formats ortrl can write as an Ollama TEMPLATE ` +
          "\\(tried ChatML, Llama 3, Phi-3, Mistral \\(no system role\\), Mistral \\(system message in the first user turn\\), Llama 2\\): ChatML: on \"user\" the template renders",
      ),
    );
    expect(err).toMatch(/Use a chat template of one of these families, or write the Modelfile's TEMPLATE by hand$/);
    // As inline text it is named as the option; a near miss (ChatML without the newline after <|im_end|>) says where it differs.
    const nearMiss = fixture("smollm2-135m-instruct.jinja").replace("'<|im_end|>' + '\n'", "'<|im_end|>'");
    expect(nearMiss).not.toBe(fixture("smollm2-135m-instruct.jinja"));
    const err2 = await errorOfAsync(() => buildModelfile({ ggufPath: "./model.gguf", modelDir: PHI3, chatTemplate: nearMiss }));
    expect(err2).toMatch(/^chat template the chatTemplate option: "\{% for message in messages %\}\{% if loop\.first and messages\[0\.\.\." is none of/);
    expect(err2).toContain(
      'ChatML: on "user" the template renders "s 17 + 25?<|im_end|><|im_start|>assistant\\n" ' +
        'where the format has "s 17 + 25?<|im_end|>\\n<|im_start|>assistant\\n" (character 141);',
    );
    // A template that raises on every conversation.
    const err3 = await errorOfAsync(() => buildModelfile({ ggufPath: "./model.gguf", modelDir: PHI3, chatTemplate: "{{ raise_exception('no chat here') }}" }));
    expect(err3).toBe(
      'chat template the chatTemplate option: "{{ raise_exception(\'no chat here\') }}" cannot be translated to an Ollama TEMPLATE: ' +
        "it fails on a single user message: chat template failed to render: no chat here",
    );
  });

  it("writes a raw {{ .Prompt }} TEMPLATE and a note for a model without a chat template (Llama 2 base tokenizer)", async () => {
    const mf = await loadModelfile({ ggufPath: "./model.gguf", modelDir: LLAMA2 });
    expect(mf.family).toBeNull();
    expect(mf.text).toBe(
      [
        `# Modelfile for Ollama, written by ortrl from ${LLAMA2}; chat template family: none (no chat template)`,
        "# Note: the model has no chat template (a base model): TEMPLATE passes the prompt as it is",
        "FROM ./model.gguf",
        'TEMPLATE """{{ .Prompt }}"""',
        'PARAMETER stop "</s>"',
        "",
      ].join("\n"),
    );
    const [go] = goRender([{ modelfile: mf.text, messages: [{ role: "user", content: "Once upon a time" }] }]);
    expect(go!.prompt).toBe("Once upon a time");
  });

  it("writes ADAPTER and paths with spaces; leaves sampling out without do_sample but keeps repeat_penalty", async () => {
    const dir = path.join(tmp, "phi3-greedy");
    fs.cpSync(PHI3, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "generation_config.json"), JSON.stringify({ temperature: 0.7, top_k: 20, repetition_penalty: 1.05 }));
    const mf = await loadModelfile({ ggufPath: "./my model.gguf", adapterPath: "./adapter.gguf", modelDir: dir });
    expect(mf.parameters).toEqual({ repeat_penalty: 1.05 });
    expect(mf.notes).toContain(
      "generation_config.json has temperature, top_k but not do_sample: true (transformers decodes greedily), so they are left out and Ollama samples with its defaults; add PARAMETER temperature 0 for greedy decoding",
    );
    const [go] = goRender([{ modelfile: mf.text }]);
    const cmds = go!.commands!;
    expect(cmds.slice(0, 2)).toEqual([
      { name: "model", args: "./my model.gguf" },
      { name: "adapter", args: "./adapter.gguf" },
    ]);
    expect(cmds[cmds.length - 1]).toEqual({ name: "repeat_penalty", args: "1.05" });
    expect(cmds.some((c) => c.name === "temperature" || c.name === "top_k")).toBe(false);
  });

  it("writes stop strings with quotes and backslashes verbatim (Ollama's parser has no escapes)", async () => {
    const eos = '<"end\\>';
    const { dir } = modelDir("odd-eos", {
      config: { bos_token: "<|im_start|>", eos_token: eos, chat_template: fixture("smollm2-135m-instruct.jinja").replace(/You are a helpful[^<]*/, 'Say "hi" \\\\o/') },
    });
    const mf = await loadModelfile({ ggufPath: "./model.gguf", modelDir: dir });
    expect(mf.system).toBe('Say "hi" \\o/');
    expect(mf.text).toContain('\nSYSTEM """Say "hi" \\o/"""\n');
    expect(mf.text).toContain('\nPARAMETER stop "<"end\\>"\n');
    const [go] = goRender([{ modelfile: mf.text, messages: [{ role: "user", content: "x" }] }]);
    expect(go!.commands!.filter((c) => c.name === "stop").map((c) => c.args)).toEqual(["<|im_start|>", "<|im_end|>", eos]);
    expect(go!.prompt).toBe('<|im_start|>system\nSay "hi" \\o/<|im_end|>\n<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n');
  });

  it("quotes each value so that Ollama's parser (Go port and JS mirror) reads it back, and refuses values no quoting carries", () => {
    const values = ['a"b\\c', '"quoted"', '""starts', " spaces around ", "two\nlines", 'ends in a quote"\nthen more', "tab\there", "ünï©ødé ✓"];
    const lines = values.map((v) => modelfileLine("PARAMETER stop", v, ["quoted", "triple"]));
    expect(lines.slice(0, 3)).toEqual(['PARAMETER stop "a"b\\c"', 'PARAMETER stop ""quoted""', 'PARAMETER stop """""starts"""']);
    const text = `FROM x\n${lines.join("\n")}\n`;
    const [go] = goRender([{ modelfile: text }]);
    const want = [{ name: "model", args: "x" }, ...values.map((args) => ({ name: "stop", args }))];
    expect(go!.commands).toEqual(want);
    expect(parseModelfile(text)).toEqual(want);
    // A line ending in """ ends a triple-quoted value early (and "...""" a quoted one); control characters are dropped.
    expect(errorOf(() => modelfileLine("SYSTEM", 'x"""\ny', ["triple", "quoted"]))).toMatch(
      /^cannot write SYSTEM "x\\"\\"\\"\\ny" in an Ollama Modelfile: its parser reads quoted values verbatim/,
    );
    expect(errorOf(() => modelfileLine("PARAMETER stop", "a\u0001b"))).toMatch(/^cannot write PARAMETER stop "a\\u0001b"/);
    const [early, dropped] = goRender([{ modelfile: 'FROM x\nSYSTEM """x"""\ny"""\n' }, { modelfile: 'FROM x\nPARAMETER stop "a\u0001b"\n' }]);
    expect(early!.error).toBe("line 3: invalid command");
    expect(dropped!.commands![1]).toEqual({ name: "stop", args: "ab" });
  });
});
