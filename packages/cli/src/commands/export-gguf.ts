/**
 * `ortrl export gguf --model DIR [--adapter DIR] --output FILE.gguf [--outtype f32|f16|bf16|q8_0|q4_0]
 *  [--format gguf|gguf-lora] [--ollama] [--chat-template FILE] [--name NAME] [--overwrite]`:
 * a GGUF v3 file for llama.cpp / node-llama-cpp / Ollama, written by @ortrl/export (no Python, no llama.cpp
 * checkout). `--format gguf` writes the model (with --adapter merged in); `--format gguf-lora` writes the adapter
 * alone as a GGUF LoRA (llama.cpp `--lora`, Ollama `ADAPTER`). `--ollama` also writes `Modelfile` beside the output
 * (for gguf-lora, plus the base model as `base.gguf` there) for `ollama create NAME -f Modelfile`.
 *
 * Nothing is replaced before its replacement is complete: each file is written to a temporary name and renamed;
 * an existing output (or Modelfile / base.gguf) is refused unless --overwrite; Ctrl-C / SIGTERM stop between
 * tensors and remove the partial file (exit 130 / 143). Prints one JSON line: output, bytes, outtype, format,
 * tensors, f16_fallbacks, modelfile.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Command, Option } from "commander";
import { isAlive, loadChatTemplate, writeFileAtomic } from "@ortrl/core";
import { savedChatTemplate } from "@ortrl/sft";
import { GGUF_OUTTYPES, type GgufOutType, type ExportGgufResult, exportGguf, exportGgufLora, loadModelfile } from "@ortrl/export";
import { UsageError } from "../errors.js";
import { handleStopSignals } from "../stop-signals.js";
import { resolveAdapterAsModel } from "./model-options.js";

interface ExportFlags {
  model: string;
  adapter?: string;
  output: string;
  outtype?: GgufOutType;
  format: "gguf" | "gguf-lora";
  ollama?: boolean;
  chatTemplate?: string;
  name?: string;
  overwrite?: boolean;
}


/** Refuses a target that exists (without --overwrite) or that is one of the files the export reads. */
function checkTarget(file: string, flags: ExportFlags, flag: string): void {
  const abs = path.resolve(file);
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) throw new UsageError(`${flag} ${file} is a directory; give the path of the .gguf file to write`);
  for (const [what, inputDir] of [["--model", flags.model], ["--adapter", flags.adapter]] as const) {
    if (!inputDir || !fs.existsSync(abs) || abs.endsWith(".gguf")) continue;
    if (path.dirname(fs.realpathSync(abs)) === fs.realpathSync(inputDir)) throw new UsageError(`${flag} ${file} is a file of ${what} ${inputDir}; write the GGUF elsewhere`);
  }
  if (fs.existsSync(abs) && !flags.overwrite) throw new UsageError(`${file} exists; pass --overwrite to replace it (it is replaced only once the new file is complete)`);
}

export function exportCommand(): Command {
  const gguf = new Command("gguf")
    .description("write a GGUF file for llama.cpp / Ollama: the model (an adapter merged in), or a GGUF LoRA adapter")
    .requiredOption("--model <dir>", "Hugging Face model directory (config.json, safetensors weights, tokenizer.json); the base model with --adapter")
    .option("--adapter <dir>", "PEFT LoRA adapter directory: merged into the weights (--format gguf) or written alone (--format gguf-lora)")
    .requiredOption("--output <file>", "the .gguf file to write")
    .addOption(new Option("--outtype <type>", "weight type of 2-D tensors (norms and biases stay f32; q8_0/q4_0 fall back to f16 for rows not a multiple of 32) (default: f16; f32 for gguf-lora)").choices([...GGUF_OUTTYPES]))
    .addOption(new Option("--format <format>", "gguf: the whole model; gguf-lora: the adapter alone (general.type = adapter)").choices(["gguf", "gguf-lora"]).default("gguf"))
    .option("--ollama", "also write an Ollama Modelfile beside the output (FROM, TEMPLATE from the chat template, PARAMETER stop and sampling defaults)")
    .option("--chat-template <file>", "a Jinja chat template (or .jinja file) instead of the tokenizer's, e.g. the one used in training: written as tokenizer.chat_template and used for the Modelfile")
    .option("--name <name>", "general.name in the GGUF (default: the model or adapter directory's name)")
    .option("--overwrite", "replace existing output files (each only after its replacement is complete)")
    .action(async (given: ExportFlags) => {
      for (const [flag, v] of [["--model", given.model], ["--adapter", given.adapter], ["--output", given.output], ["--chat-template", given.chatTemplate]] as const) {
        if (v !== undefined && v.trim() === "") throw new UsageError(`${flag} is empty`);
      }
      // --model ADAPTER_DIR without --adapter: its base model with that adapter.
      const flags: ExportFlags = { ...given, ...resolveAdapterAsModel(given) };
      const lora = flags.format === "gguf-lora";
      if (lora && !flags.adapter) throw new UsageError("--format gguf-lora needs --adapter (the PEFT adapter to write)");
      if (lora && flags.outtype && !["f32", "f16", "bf16"].includes(flags.outtype)) throw new UsageError(`--outtype ${flags.outtype}: a GGUF LoRA adapter is written as f32, f16 or bf16`);
      for (const [flag, dir] of [["--model", flags.model], ["--adapter", flags.adapter]] as const) {
        if (dir !== undefined && !(fs.existsSync(dir) && fs.statSync(dir).isDirectory())) throw new UsageError(`${flag} ${dir} is not a directory`);
      }
      if (flags.chatTemplate !== undefined && /\.jinja$/.test(flags.chatTemplate) && !fs.existsSync(flags.chatTemplate)) throw new UsageError(`--chat-template ${flags.chatTemplate} does not exist`);
      // --chat-template, else a template saved with the adapter by training (chat_template.jinja), else the tokenizer's.
      const savedWithAdapter = flags.adapter ? savedChatTemplate(flags.adapter) : null;
      const chatTemplateSource = flags.chatTemplate ?? (savedWithAdapter !== null ? path.join(flags.adapter!, "chat_template.jinja") : undefined);
      const chatTemplate = chatTemplateSource !== undefined ? (loadChatTemplate(chatTemplateSource) ?? undefined) : undefined;
      const outDir = path.dirname(path.resolve(flags.output));
      const modelfilePath = path.join(outDir, "Modelfile");
      const basePath = path.join(outDir, "base.gguf");
      // Every file this run writes, each a distinct path that is neither an input nor (without --overwrite) existing.
      const targets: [string, string][] = [["--output", path.resolve(flags.output)]];
      if (flags.ollama) targets.push(["Modelfile", modelfilePath]);
      if (flags.ollama && lora) targets.push(["base.gguf", basePath]);
      for (const [flag, file] of targets) {
        const clash = targets.find(([other, f]) => other !== flag && f === file);
        if (clash) throw new UsageError(`--output ${flags.output} is the ${flag === "--output" ? clash[0] : flag} that --ollama writes beside it; choose another file name`);
        checkTarget(file, flags, flag);
        if (flags.chatTemplate && fs.existsSync(flags.chatTemplate) && fs.existsSync(file) && fs.realpathSync(file) === fs.realpathSync(flags.chatTemplate)) {
          throw new UsageError(`${flag} ${file} is the --chat-template file; write elsewhere`);
        }
      }
      // The Modelfile is built first: a chat template that cannot be translated stops before any GGUF is written.
      const rel = (p: string) => `./${path.relative(outDir, p).split(path.sep).join("/")}`;
      const modelfile = flags.ollama
        ? await loadModelfile({
            modelDir: flags.model,
            ggufPath: rel(lora ? basePath : path.resolve(flags.output)),
            adapterPath: lora ? rel(path.resolve(flags.output)) : undefined,
            chatTemplate: chatTemplateSource, // the path, so that errors name the file
          })
        : null;
      const createdDir = !fs.existsSync(outDir);
      try {
        fs.mkdirSync(outDir, { recursive: true });
      } catch (e) {
        throw new UsageError(`--output ${flags.output}: cannot create its directory ${outDir}: ${(e as Error).message}`);
      }
      // Leftovers of killed exports (ours only: `<target>.tmp-PID` / `<target>.part-PID` of dead processes).
      const names = new Set(targets.map(([, f]) => path.basename(f)));
      for (const name of fs.readdirSync(outDir)) {
        const m = /^(.*)\.(tmp|part)-(\d+)$/.exec(name);
        if (m && names.has(m[1]!) && !isAlive(Number(m[3]))) fs.rmSync(path.join(outDir, name), { force: true });
      }

      const abort = new AbortController();
      const signals = handleStopSignals(abort, "stopping the export; no partial file is left", "exiting at once");
      // Each file is staged as `<target>.part-PID` and all are renamed into place only when every one is complete.
      const staged = (file: string) => `${file}.part-${process.pid}`;
      let result: ExportGgufResult;
      try {
        if (lora) {
          result = await exportGgufLora({ modelDir: flags.model, adapterDir: flags.adapter!, output: staged(path.resolve(flags.output)), outtype: flags.outtype, name: flags.name, signal: abort.signal });
          if (modelfile) await exportGguf({ modelDir: flags.model, output: staged(basePath), outtype: flags.outtype ?? "f16", chatTemplate, signal: abort.signal });
        } else {
          result = await exportGguf({ modelDir: flags.model, adapterDir: flags.adapter, output: staged(path.resolve(flags.output)), outtype: flags.outtype, chatTemplate, name: flags.name, signal: abort.signal });
        }
        if (modelfile) writeFileAtomic(staged(modelfilePath), modelfile.text);
        abort.signal.throwIfAborted();
        for (const [, file] of targets) fs.renameSync(staged(file), file);
      } catch (e) {
        for (const [, file] of targets) fs.rmSync(staged(file), { force: true });
        if (createdDir && fs.readdirSync(outDir).length === 0) fs.rmdirSync(outDir);
        if (abort.signal.aborted) {
          process.stderr.write(`ortrl: export stopped; nothing was written\n`);
          process.exit(signals.exitCode());
        }
        throw e;
      } finally {
        signals.dispose();
      }
      for (const w of result.warnings) process.emitWarning(w);
      for (const note of modelfile?.notes ?? []) process.emitWarning(`Modelfile: ${note}`);
      process.stdout.write(JSON.stringify({
        output: flags.output,
        bytes: result.bytes,
        outtype: flags.outtype ?? (lora ? "f32" : "f16"),
        format: flags.format,
        tensors: result.tensors.length,
        f16_fallbacks: result.fallbacks,
        modelfile: modelfile ? modelfilePath : null,
      }) + "\n");
    });
  return new Command("export").description("export a model for other runtimes (GGUF for llama.cpp and Ollama)").addCommand(gguf);
}
