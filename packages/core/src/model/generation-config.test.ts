/** generation_config.json: the fields read, {} without the file, errors naming the file and the field. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf } from "../testing/edits.js";
import { STORIES_DIR, TINY_LLAMA_DIR } from "../testing/fixtures.js";
import { readGenerationConfig } from "./generation-config.js";

const TINY = path.join(TINY_LLAMA_DIR, "model");
const STORIES = STORIES_DIR;

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ortrl-generation-config-"));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("readGenerationConfig", () => {
  it("reads generation_config.json, or {} without one", () => {
    expect(readGenerationConfig(STORIES)).toEqual({ bosTokenId: 1, eosTokenId: 2, maxLength: 256 });
    expect(readGenerationConfig(TINY)).toEqual({});
    const dir = fs.mkdtempSync(path.join(tmp, "gen-"));
    const file = path.join(dir, "generation_config.json");
    fs.writeFileSync(file, JSON.stringify({ do_sample: true, temperature: 0.6, top_p: 0.9, top_k: 50, eos_token_id: [1, 2], pad_token_id: null }));
    expect(readGenerationConfig(dir)).toEqual({ doSample: true, temperature: 0.6, topP: 0.9, topK: 50, eosTokenId: [1, 2] });
    fs.writeFileSync(file, JSON.stringify({ top_p: 2 }));
    expect(errorOf(() => readGenerationConfig(dir))).toBe(`${file}: field 'top_p' must be a number in [0, 1], got 2`);
  });
});
