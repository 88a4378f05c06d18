export * from "./cpt-config.js";
export * from "./cpt-data.js";
export * from "./cpt-module.js";
export * from "./cpt-plugin.js";
