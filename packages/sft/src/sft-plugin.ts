/** The SFT method plugin: config schema, defaults and bindings (TRL's SFTTrainer). */
import type { MethodPlugin } from "@ortrl/core";
import { SFT_DEFAULTS, SFT_SCHEMA, type SftConfig, resolveSftConfig } from "./sft-config.js";
import { sftModule } from "./sft-module.js";

export const sftPlugin: MethodPlugin<SftConfig> = {
  name: "sft",
  schema: SFT_SCHEMA,
  defaults: SFT_DEFAULTS,
  resolve: resolveSftConfig,
  module: sftModule,
};
