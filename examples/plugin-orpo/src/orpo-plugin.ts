/** The ORPO method plugin: config schema, defaults and bindings (TRL's ORPOTrainer, Hong et al. 2024). */
import type { MethodPlugin } from "@ortrl/core";
import { ORPO_DEFAULTS, ORPO_SCHEMA, type OrpoConfig, resolveOrpoConfig } from "./orpo-config.js";
import { orpoModule } from "./orpo-module.js";

export const orpoPlugin: MethodPlugin<OrpoConfig> = {
  name: "orpo",
  schema: ORPO_SCHEMA,
  defaults: ORPO_DEFAULTS,
  resolve: resolveOrpoConfig,
  module: orpoModule,
};
