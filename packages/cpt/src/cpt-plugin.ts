/** The CPT method plugin: config schema, defaults and bindings. */
import type { MethodPlugin } from "@ortrl/core";
import { CPT_DEFAULTS, CPT_SCHEMA, type CptConfig, resolveCptConfig } from "./cpt-config.js";
import { cptModule } from "./cpt-module.js";

export const cptPlugin: MethodPlugin<CptConfig> = {
  name: "cpt",
  schema: CPT_SCHEMA,
  defaults: CPT_DEFAULTS,
  resolve: resolveCptConfig,
  module: cptModule,
};
