/** The `ortrl` command line. */
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { evalCommand } from "./commands/eval.js";
import { generateCommand } from "./commands/generate.js";
import { exportCommand } from "./commands/export-gguf.js";
import { mergeCommand } from "./commands/merge.js";
import { inspectCommand } from "./commands/inspect.js";
import { trainCptCommand } from "./commands/train-cpt.js";
import { trainSftCommand } from "./commands/train-sft.js";
import { trainDpoCommand } from "./commands/train-dpo.js";
import { trainGrpoCommand } from "./commands/train-grpo.js";
import { UsageError, reportAndExit } from "./errors.js";
import { ortrlVersion } from "./training-record-of.js";

export function buildProgram(): Command {
  const program = new Command("ortrl")
    .description("post-training for language models on onnxruntime-node")
    .version(ortrlVersion())
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  program.addCommand(generateCommand());
  program.addCommand(evalCommand());
  program.addCommand(mergeCommand());
  program.addCommand(exportCommand());
  program.addCommand(inspectCommand());
  const train = new Command("train").description("train a model with a post-training method");
  train.addCommand(trainCptCommand());
  train.addCommand(trainSftCommand());
  train.addCommand(trainDpoCommand());
  train.addCommand(trainGrpoCommand());
  program.addCommand(train);
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ outputError: () => {} });
    c.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program;
}


export async function main(argv: string[]): Promise<void> {
  // Library warnings (e.g. skipped dataset records) as one plain line each, written at once: Node
  // delivers warnings on a later tick, which an error's process.exit would pre-empt.
  process.emitWarning = ((warning: string | Error) => {
    process.stderr.write(`ortrl: warning: ${typeof warning === "string" ? warning : warning.message}\n`);
  }) as typeof process.emitWarning;
  // Errors thrown outside the command's promise (timers, streams) are reported the same way.
  process.on("uncaughtException", (e) => reportAndExit(e));
  process.on("unhandledRejection", (e) => reportAndExit(e));
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") process.exit(0);
    // `ortrl` or `ortrl train` without a command: help went to stderr; a usage error.
    if (err.code === "commander.help") process.exit(2);
    if (typeof err.code === "string" && err.code.startsWith("commander.")) reportAndExit(new UsageError((err.message ?? "").replace(/^error: /, "")));
    reportAndExit(e);
  }
}

await main(process.argv);
