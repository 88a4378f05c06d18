/**
 * Training config files (`--config FILE.yaml|json`): TRL-style snake_case keys (camelCase and the
 * fields' aliases accepted), validated by the command's schema. Unknown keys and bad values are
 * errors naming the file and the key as written.
 */
import { parse as parseYaml } from "yaml";
import { type ConfigSchema, readTextFile } from "@ortrl/core";
import { UsageError } from "./errors.js";

/**
 * Reads and validates a config file against `schema` (every key optional).
 * @throws ConfigError "FILE: key 'k' message" for unknown keys, wrong types or bad values;
 *   UsageError for a missing or unparsable file or one that is not a mapping (all exit 2).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readConfigFile(path: string, schema: ConfigSchema<any>): Record<string, unknown> {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (e) {
    throw new UsageError(`--config ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new UsageError(`${path}: cannot parse (${(e as Error).message.split("\n")[0]})`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new UsageError(`${path}: expected a mapping of option names to values`);
  return schema.parsePartial(raw as Record<string, unknown>, path, "snake");
}
