/** Ollama Modelfiles for exported GGUF models: TEMPLATE from the model's chat template, SYSTEM, stops, sampling defaults. */
export * from "./chat-format.js";
export * from "./chat-template-family.js";
export * from "./modelfile-syntax.js";
export * from "./modelfile.js";
