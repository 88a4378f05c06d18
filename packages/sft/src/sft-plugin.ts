/** The SFT method plugin: config, defaults and bindings (TRL's SFTTrainer). */
import type { MethodPlugin } from "@ortrl/core";
import { SFT_DEFAULTS, type SftConfig, resolveSftConfig } from "./sft-config.js";
import { sftModule } from "./sft-module.js";

export const sftPlugin: MethodPlugin<SftConfig> = {
  name: "sft",
  defaults: SFT_DEFAULTS,
  resolve: resolveSftConfig,
  module: sftModule,
};
