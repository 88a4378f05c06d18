export * from "./sft-config.js";
export * from "./sft-formats.js";
export * from "./chat-masks.js";
export * from "./sft-tokenize.js";
export * from "./packing.js";
export * from "./sft-data.js";
export * from "./sft-module.js";
export * from "./sft-plugin.js";
