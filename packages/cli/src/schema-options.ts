/**
 * Command-line flags generated from a config schema: one flag per field (kebab-case of its key, or
 * the field's own flag name, plus its aliases), `--x` / `--no-x` for booleans, `--x <a...>` for
 * lists, the field's doc line and default in `--help`. Values are checked by the schema, so a bad
 * value is reported as "--flag must be ..., got X".
 */
import { type Command, Option } from "commander";
import { type ConfigSchema, type FieldSpec, camelToKebab, show } from "@ortrl/core";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySchema = ConfigSchema<any>;

const flagOf = (key: string, f: FieldSpec) => (f.flag ? f.flag : camelToKebab(key));

function describe(f: FieldSpec): string {
  const d = f.default;
  const empty = d === null || d === "" || (Array.isArray(d) && d.length === 0);
  return empty ? f.doc : `${f.doc} (default: ${Array.isArray(d) ? d.join(",") : show(d)})`;
}

/** Commander attribute name of a flag ("max-seq-length" -> "maxSeqLength"). */
const attr = (flag: string) => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Adds a flag for every field of `schema` except those in `skip` or with `flag: false`.
 * @returns the command, and the flag names it added by commander attribute (for {@link flagValues}).
 */
export function addSchemaFlags(cmd: Command, schema: AnySchema, skip: readonly string[] = []): Map<string, string> {
  const added = new Map<string, string>();
  for (const [key, f] of Object.entries(schema.fields) as [string, FieldSpec][]) {
    if (skip.includes(key) || f.flag === false) continue;
    const names = [flagOf(key, f), ...(f.aliases ?? []).map(camelToKebab)];
    names.forEach((flag, i) => {
      const desc = i === 0 ? describe(f) : `alias of --${names[0]}`;
      if (f.arity === "boolean") {
        cmd.addOption(new Option(`--${flag}`, desc));
        // --no-x is listed in --help when x is on (or decided automatically) by default.
        cmd.addOption(new Option(`--no-${flag}`, `turn off --${names[0]}`).hideHelp(i > 0 || f.default === false));
      } else if (f.arity === "list") {
        cmd.addOption(new Option(`--${flag} <${f.placeholder ?? "value..."}>`, desc));
      } else {
        cmd.addOption(new Option(`--${flag} <${f.placeholder ?? "value"}>`, desc));
      }
      added.set(attr(flag), flag);
    });
  }
  return added;
}

/**
 * The schema values given as flags, keyed by the flag as written (for messages), converted from
 * strings with each field's `fromString`. Unset flags are absent.
 */
export function flagValues(flags: Record<string, unknown>, schema: AnySchema, added: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [attribute, flag] of added) {
    const v = flags[attribute];
    if (v === undefined) continue;
    const key = schema.keyOf(flag)!;
    const f = schema.fields[key] as FieldSpec;
    out[flag] = typeof v === "string" ? f.fromString(v) : Array.isArray(v) ? v.map((x) => (typeof x === "string" ? f.fromString(x) : x)) : v;
  }
  return out;
}
