/** The CPT method plugin: config, defaults and bindings. */
import type { MethodPlugin } from "@ortrl/core";
import { CPT_DEFAULTS, type CptConfig, resolveCptConfig } from "./cpt-config.js";
import { cptModule } from "./cpt-module.js";

export const cptPlugin: MethodPlugin<CptConfig> = {
  name: "cpt",
  defaults: CPT_DEFAULTS,
  resolve: resolveCptConfig,
  module: cptModule,
};
