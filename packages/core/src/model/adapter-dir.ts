/**
 * A PEFT adapter directory (adapter_config.json, no config.json) given where a model directory is
 * expected: what it says about its base model, and the message that says how to load it instead
 * (the base model with the adapter applied).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** An adapter directory found where a model directory was expected. */
export interface AdapterDirAsModel {
  /** The adapter directory, as given. */
  adapterDir: string;
  /** adapter_config.json's `base_model_name_or_path`; null when absent, empty or unreadable. */
  declaredBase: string | null;
  /** `declaredBase` when it is an existing local model directory (it holds config.json), else null. */
  base: string | null;
}

/**
 * `dir` as an adapter directory: null when it is not one (it holds config.json, has no
 * adapter_config.json, or is not a directory). A relative `base_model_name_or_path` is read relative
 * to the working directory, as transformers and PEFT read it; a Hub id that is not a local directory
 * gives `base: null`.
 */
export function adapterDirAsModel(dir: string): AdapterDirAsModel | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return null;
  if (existsSync(join(dir, "config.json")) || !existsSync(join(dir, "adapter_config.json"))) return null;
  let declaredBase: string | null = null;
  try {
    const j = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")) as { base_model_name_or_path?: unknown };
    if (typeof j.base_model_name_or_path === "string" && j.base_model_name_or_path !== "") declaredBase = j.base_model_name_or_path;
  } catch {
    // an unreadable adapter_config.json is reported when the adapter is loaded
  }
  const base = declaredBase !== null && existsSync(join(resolve(declaredBase), "config.json")) ? declaredBase : null;
  return { adapterDir: dir, declaredBase, base };
}

/**
 * Why `info.adapterDir` cannot be loaded as a model, and what to pass instead: the base model and
 * the adapter (`--model BASE --adapter DIR`), naming its `base_model_name_or_path`.
 */
export function adapterDirNotModelMessage(info: AdapterDirAsModel): string {
  const declared =
    info.declaredBase === null
      ? "its adapter_config.json names no base_model_name_or_path"
      : info.base === null
        ? `its base_model_name_or_path ${JSON.stringify(info.declaredBase)} is not a local model directory`
        : `its base_model_name_or_path is ${JSON.stringify(info.declaredBase)}`;
  return `${info.adapterDir} is a PEFT adapter directory (adapter_config.json, no config.json), not a model; ${declared}: pass the base model and the adapter, --model BASE --adapter ${info.adapterDir}`;
}
