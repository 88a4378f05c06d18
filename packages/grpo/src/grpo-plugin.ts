/** The GRPO method plugin: config schema, defaults and bindings (TRL's GRPOTrainer). */
import type { MethodPlugin } from "@ortrl/core";
import { GRPO_DEFAULTS, GRPO_SCHEMA, type GrpoConfig, resolveGrpoConfig } from "./grpo-config.js";
import { grpoModule } from "./grpo-module.js";

export const grpoPlugin: MethodPlugin<GrpoConfig> = {
  name: "grpo",
  schema: GRPO_SCHEMA,
  defaults: GRPO_DEFAULTS,
  resolve: resolveGrpoConfig,
  module: grpoModule,
};
