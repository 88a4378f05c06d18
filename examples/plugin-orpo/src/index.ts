export * from "./orpo-config.js";
export * from "./orpo-data.js";
export * from "./orpo-loss.js";
export * from "./orpo-objective.js";
export * from "./orpo-module.js";
export * from "./orpo-plugin.js";
