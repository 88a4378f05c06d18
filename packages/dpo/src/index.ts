export * from "./dpo-config.js";
export * from "./dpo-data.js";
export * from "./dpo-loss.js";
export * from "./dpo-objective.js";
export * from "./dpo-module.js";
export * from "./dpo-plugin.js";
