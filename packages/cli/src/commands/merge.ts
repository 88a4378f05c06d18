/**
 * `ortrl merge --model DIR --adapter DIR --output-dir DIR [--dtype float32|float16|bfloat16]
 *  [--max-shard-size SIZE] [--overwrite-output-dir]`: PEFT's merge_and_unload written as a Hugging Face
 * model directory (transformers' save_pretrained layout: config.json with torch_dtype, model.safetensors
 * or shards with model.safetensors.index.json, the base model's tokenizer files and
 * generation_config.json; the adapter's chat_template.jinja, which a run trained with --chat-template saves, replaces
 * the base's). Tied embeddings stay tied. The output directory is checked before anything
 * is read (never the model or the adapter, nor a directory holding a model unless
 * --overwrite-output-dir), and the new model is written completely before it replaces anything (see
 * saveMergedModel). Prints one JSON line: output_dir, dtype, files, total_size (bytes of tensor data).
 * `--model ADAPTER_DIR` without --adapter merges that adapter into the base model its adapter_config.json
 * names, when that is a local directory (see resolveAdapterAsModel).
 */
import { Command, Option } from "commander";
import { DEFAULT_MAX_SHARD_SIZE, MODEL_DTYPES, type ModelDType, Runtime, attachAdapterFromDir, checkModelOutputDir, loadPretrained, parseByteSize, saveMergedModel } from "@ortrl/core";
import { savedChatTemplate } from "@ortrl/sft";
import { UsageError } from "../errors.js";
import { resolveAdapterAsModel } from "./model-options.js";

interface MergeFlags {
  model: string;
  adapter?: string;
  outputDir: string;
  dtype: ModelDType;
  maxShardSize: number;
  overwriteOutputDir?: boolean;
}

function dtypeOption(raw: string): ModelDType {
  if (!(MODEL_DTYPES as readonly string[]).includes(raw)) throw new UsageError(`--dtype must be one of ${MODEL_DTYPES.join(", ")}, got '${raw}'`);
  return raw as ModelDType;
}

function sizeOption(raw: string): number {
  try {
    return parseByteSize(raw);
  } catch (e) {
    throw new UsageError(`--max-shard-size ${(e as Error).message}`);
  }
}

export function mergeCommand(): Command {
  return new Command("merge")
    .description("merge a PEFT LoRA adapter into its base model and save the result as a Hugging Face model directory")
    .requiredOption("--model <dir>", "the base model: Hugging Face model directory (config.json, model.safetensors, tokenizer.json)")
    .option("--adapter <dir>", "PEFT LoRA adapter directory trained on --model (adapter_config.json, adapter_model.safetensors); required unless --model is that adapter directory and its base_model_name_or_path a local model")
    .requiredOption("--output-dir <dir>", "where the merged model goes (created; neither --model nor --adapter, nor a directory containing them)")
    .addOption(new Option("--dtype <dtype>", `element type of the saved weights and config.json's torch_dtype: ${MODEL_DTYPES.join("|")}`).argParser(dtypeOption).default("float32"))
    .addOption(
      new Option("--max-shard-size <size>", "largest weight file in bytes of tensor data, as transformers: an integer, or a number with KB/MB/GB (1000s) or KiB/MiB/GiB (1024s); above it the weights are sharded")
        .argParser(sizeOption)
        .default(DEFAULT_MAX_SHARD_SIZE, "5GB"),
    )
    .option("--overwrite-output-dir", "replace a model, adapter or tokenizer files already in --output-dir (after the new model is completely written; other files stay)")
    .action(async (given: MergeFlags) => {
      // --model ADAPTER_DIR alone: its base model with that adapter.
      const { model, adapter } = resolveAdapterAsModel(given);
      if (!adapter) throw new UsageError("required option '--adapter <dir>' not specified");
      const flags = { ...given, model, adapter };
      const inputs = [
        { what: "--model", path: flags.model },
        { what: "--adapter", path: flags.adapter },
      ];
      const overwrite = flags.overwriteOutputDir === true;
      // Refused before the model is read: a directory that cannot be used costs nothing.
      checkModelOutputDir(flags.outputDir, { inputs, overwrite });
      const m = await loadPretrained(flags.model, new Runtime());
      const { lm } = await attachAdapterFromDir(m.lm, flags.adapter);
      const saved = await saveMergedModel(flags.outputDir, { lm, config: m.config, tokenizerFrom: flags.model, chatTemplate: savedChatTemplate(flags.adapter), dtype: flags.dtype, maxShardSize: flags.maxShardSize, overwrite, inputs });
      process.stdout.write(JSON.stringify({ output_dir: saved.dir, dtype: saved.dtype, files: saved.files, total_size: saved.totalSize }) + "\n");
    });
}
