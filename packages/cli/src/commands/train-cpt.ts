/**
 * `ortrl train cpt --model DIR --data FILE [--eval-data FILE] --output-dir DIR [...training flags]`:
 * continued pretraining on raw text (`.txt` or JSONL `{"text"}`), all parameters trained.
 */
import { Command } from "commander";
import { cptPlugin, type CptConfig } from "@ortrl/cpt";
import { z } from "zod";
import { num } from "../errors.js";
import { readConfigFile, trainingSchema } from "../config-file.js";
import { addTrainingOptions, flagsToConfig, runTraining } from "./train-common.js";

const cptSchema = trainingSchema;

export function trainCptCommand(): Command {
  const cmd = new Command("cpt").description("continued pretraining (full parameters) on raw text");
  addTrainingOptions(cmd)
    .option("--eval-holdout <f>", "hold out this fraction of the training text for evaluation", num("--eval-holdout", false, 0))
    .option("--embedding-learning-rate <x>", "learning rate of embed_tokens / lm_head", num("--embedding-learning-rate", false, 0))
    .option("--no-packing", "truncate documents instead of concatenating and chunking them")
    .action(async (flags: Record<string, unknown>) => {
      const file = typeof flags.config === "string" ? flags.config : undefined;
      const fromFile: Record<string, unknown> = file ? readConfigFile(file, cptSchema as z.ZodObject) : {};
      const cli = flagsToConfig(flags);
      if (flags.packing === true && fromFile.packing !== undefined) delete cli.packing; // commander's default for --no-packing
      const options = { ...fromFile, ...cli };
      await runTraining<CptConfig>({
        plugin: cptPlugin,
        options,
        source: file ?? "command line",
        toConfig: (o) => ({ ...(o as Partial<CptConfig>), dataFiles: (o.data as string[] | undefined) ?? [], evalDataFiles: (o.evalData as string[] | undefined) ?? [], outputDir: o.outputDir as string }),
      });
    });
  return cmd;
}
