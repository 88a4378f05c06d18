/** The DPO method plugin: config schema, defaults and bindings (TRL's DPOTrainer). */
import type { MethodPlugin } from "@ortrl/core";
import { DPO_DEFAULTS, DPO_SCHEMA, type DpoConfig, resolveDpoConfig } from "./dpo-config.js";
import { dpoModule } from "./dpo-module.js";

export const dpoPlugin: MethodPlugin<DpoConfig> = {
  name: "dpo",
  schema: DPO_SCHEMA,
  defaults: DPO_DEFAULTS,
  resolve: resolveDpoConfig,
  module: dpoModule,
};
