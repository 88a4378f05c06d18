/**
 * A Hugging Face model directory's generation_config.json: the generation defaults a checkpoint ships
 * (token ids, lengths, sampling settings).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { Fields, isObject, readJson } from "../io/json-fields.js";

/** generation_config.json fields ortrl reads; absent or null keys are left out. */
export interface GenerationConfig {
  bosTokenId?: number;
  eosTokenId?: number | number[];
  padTokenId?: number;
  maxLength?: number;
  maxNewTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  doSample?: boolean;
  repetitionPenalty?: number;
}

/**
 * Reads `dir/generation_config.json`; a missing file gives {}.
 * @throws Error naming the file and field for invalid JSON or a value of the wrong type.
 */
export function readGenerationConfig(dir: string): GenerationConfig {
  const file = path.join(dir, "generation_config.json");
  if (!fs.existsSync(file)) return {};
  const json = readJson(file);
  if (!isObject(json)) throw new Error(`${file}: not a JSON object`);
  const f = new Fields(json, file);
  const out: GenerationConfig = {};
  const num = (key: string, check: (x: number) => boolean, what: string): number | undefined => {
    const v = f.raw(key);
    if (v === undefined || v === null) return undefined;
    return typeof v === "number" && check(v) ? v : f.fail(key, what);
  };
  const nonNegInt = (x: number) => Number.isSafeInteger(x) && x >= 0;
  const set = <K extends keyof GenerationConfig>(k: K, v: GenerationConfig[K] | null | undefined) => {
    if (v !== undefined && v !== null) out[k] = v;
  };
  set("bosTokenId", f.tokenId("bos_token_id", null));
  set("eosTokenId", f.tokenIds("eos_token_id", null));
  set("padTokenId", f.tokenId("pad_token_id", null));
  set("maxLength", num("max_length", nonNegInt, "must be a non-negative integer"));
  set("maxNewTokens", num("max_new_tokens", nonNegInt, "must be a non-negative integer"));
  set("temperature", num("temperature", (x) => x >= 0, "must be a non-negative number"));
  set("topP", num("top_p", (x) => x >= 0 && x <= 1, "must be a number in [0, 1]"));
  set("topK", num("top_k", nonNegInt, "must be a non-negative integer"));
  set("repetitionPenalty", num("repetition_penalty", (x) => x > 0, "must be a positive number"));
  const ds = f.raw("do_sample");
  if (ds !== undefined && ds !== null) set("doSample", f.bool("do_sample", false));
  return out;
}
