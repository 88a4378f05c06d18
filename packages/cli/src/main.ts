/** The `ortrl` command line. */
import { Command } from "commander";
import { evalCommand } from "./commands/eval.js";
import { generateCommand } from "./commands/generate.js";
import { trainCptCommand } from "./commands/train-cpt.js";
import { trainSftCommand } from "./commands/train-sft.js";
import { UsageError, reportAndExit } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command("ortrl")
    .description("post-training for language models on onnxruntime-node")
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  program.addCommand(generateCommand());
  program.addCommand(evalCommand());
  const train = new Command("train").description("train a model with a post-training method");
  train.addCommand(trainCptCommand());
  train.addCommand(trainSftCommand());
  program.addCommand(train);
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ outputError: () => {} });
    c.commands.forEach(quiet);
  };
  program.commands.forEach(quiet);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") process.exit(0);
    if (typeof err.code === "string" && err.code.startsWith("commander.")) reportAndExit(new UsageError((err.message ?? "").replace(/^error: /, "")));
    reportAndExit(e);
  }
}

await main(process.argv);
