/**
 * Training config files (`--config FILE.yaml|json`): TRL-style snake_case keys (camelCase and the
 * fields' aliases accepted), validated by the command's schema. Unknown keys and bad values are
 * errors naming the file and the key as written.
 */
import { parse as parseYaml } from "yaml";
import { type ConfigSchema, readTextFile } from "@ortrl/core";

/**
 * Reads and validates a config file against `schema` (every key optional).
 * @throws Error "FILE: key 'k' message" for unknown keys, wrong types or bad values; "FILE: cannot
 *   parse (...)" for unparsable files.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function readConfigFile(path: string, schema: ConfigSchema<any>): Record<string, unknown> {
  const text = readTextFile(path);
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`${path}: cannot parse (${(e as Error).message.split("\n")[0]})`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${path}: expected a mapping of option names to values`);
  return schema.parsePartial(raw as Record<string, unknown>, path, "snake");
}
