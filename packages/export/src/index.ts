/** @ortrl/export: GGUF files for llama.cpp / Ollama (models and LoRA adapters) and Ollama Modelfiles. */
export * from "./gguf/gguf-file.js";
export * from "./gguf/ggml-types.js";
export * from "./gguf/llama-gguf.js";
export * from "./gguf/tokenizer-gguf.js";
export * from "./gguf/export-gguf.js";
export * from "./gguf/lora-gguf.js";
export * from "./ollama/index.js";
