export * from "./grpo-config.js";
export * from "./grpo-data.js";
export * from "./grpo-rollout.js";
export * from "./grpo-loss.js";
export * from "./rewards.js";
export * from "./grpo-objective.js";
export * from "./grpo-module.js";
export * from "./grpo-plugin.js";
