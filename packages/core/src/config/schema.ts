/**
 * One schema per config: fields declared once (see fields.ts) give
 *   - the TS type (`ConfigOf<typeof fields>`),
 *   - the defaults,
 *   - validation whose messages name the field as the user wrote it (camelCase in code, the
 *     snake_case key in a config file, the kebab-case flag on the command line),
 *   - the config-file keys (TRL's snake_case; camelCase and aliases accepted) and the CLI flags.
 * Unknown keys are errors.
 */
import type { FieldSpec } from "./fields.js";
import { show } from "./fields.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fields = Record<string, FieldSpec<any>>;
export type ConfigOf<F extends Fields> = { -readonly [K in keyof F]: F[K] extends FieldSpec<infer T> ? T : never };

/**
 * A rule across fields: returns [field, message phrase] when violated, else null. `name` renders
 * another field's name as the user wrote it (key, file key or flag) for the message.
 */
export type CrossCheck<C> = (config: C, name: (key: keyof C & string) => string) => readonly [keyof C & string, string] | null;

/** How messages name a field: by its camelCase key (code), its file key (snake_case) or its flag. */
export type FieldNaming = "key" | "snake" | "flag";

export const camelToSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
export const camelToKebab = (k: string): string => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const snakeToCamel = (k: string): string => k.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** An invalid config value: `source: name message` (one line). */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly source: string,
    readonly field: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyCheck = (config: any, name: (key: string) => string) => readonly [string, string] | null;

export class ConfigSchema<F extends Fields> {
  private readonly checks: readonly AnyCheck[];

  constructor(
    readonly fields: F,
    checks: readonly CrossCheck<ConfigOf<F>>[] = [],
  ) {
    this.checks = checks as readonly AnyCheck[];
  }

  /** Field keys in declaration order. */
  get keys(): (keyof F & string)[] {
    return Object.keys(this.fields) as (keyof F & string)[];
  }

  /** A fresh object of every field's default. */
  get defaults(): ConfigOf<F> {
    const out: Record<string, unknown> = {};
    for (const [k, f] of Object.entries(this.fields)) out[k] = clone(f.default);
    return out as ConfigOf<F>;
  }

  /** The same fields with other defaults (e.g. a method's own learning rate). */
  withDefaults(defaults: Partial<ConfigOf<F>>): ConfigSchema<F> {
    const fields: Record<string, FieldSpec> = { ...this.fields };
    for (const [k, v] of Object.entries(defaults)) {
      if (!fields[k]) throw new Error(`withDefaults: unknown field '${k}'`);
      fields[k] = { ...fields[k]!, default: v };
    }
    return new ConfigSchema(fields as F, this.checks as never);
  }

  /** The canonical key of a name as written (camelCase, snake_case, kebab-case or an alias), or undefined. */
  keyOf(written: string): (keyof F & string) | undefined {
    const camel = snakeToCamel(written);
    if (camel in this.fields) return camel as keyof F & string;
    for (const [k, f] of Object.entries(this.fields)) if (f.aliases?.includes(camel) || (f.flag && snakeToCamel(f.flag) === camel)) return k as keyof F & string;
    return undefined;
  }

  /** How to call `key` in a message under a naming. */
  nameOf(key: string, naming: FieldNaming): string {
    const f = this.fields[key];
    if (naming === "snake") return `key '${f && f.flag ? f.flag.replace(/-/g, "_") : camelToSnake(key)}'`;
    if (naming === "flag") return `--${f && f.flag ? f.flag : camelToKebab(key)}`;
    return key;
  }

  /**
   * Checks the given values only (types and per-field checks; no defaults, no cross-field rules).
   * Keys may be written camelCase, snake_case or as an alias; `undefined` values are dropped.
   * @throws ConfigError "source: NAME message" for an unknown key, a key given twice under two
   *   spellings, or an invalid value.
   */
  parsePartial(raw: Record<string, unknown>, source: string, naming: FieldNaming = "key"): Partial<ConfigOf<F>> {
    const out: Record<string, unknown> = {};
    const writtenAs = new Map<string, string>();
    for (const [written, value] of Object.entries(raw)) {
      if (value === undefined) continue;
      const key = this.keyOf(written);
      if (!key) throw new ConfigError(source, written, `${naming === "flag" ? `--${written}` : naming === "snake" ? `key '${written}'` : written}: unknown option`);
      const as = (w: string) => (naming === "snake" ? `key '${w}'` : naming === "flag" ? `--${w}` : w);
      const label = naming === "flag" ? this.nameOf(key, "flag") : as(written);
      if (writtenAs.has(key)) throw new ConfigError(source, key, `${as(written)} duplicates ${as(writtenAs.get(key)!)} (the same option)`);
      writtenAs.set(key, written);
      out[key] = this.check(key, value, source, label);
    }
    return out as Partial<ConfigOf<F>>;
  }

  /**
   * Defaults filled in, every field checked, then the cross-field rules.
   * @param naming how messages name fields (the CLI passes "flag" for the command line, "snake" for a file).
   * @throws ConfigError "source: field message" naming the first invalid field.
   */
  resolve(partial: Partial<ConfigOf<F>> | Record<string, unknown>, source = "config", naming: FieldNaming = "key"): ConfigOf<F> {
    const name = (k: string) => this.nameOf(k, naming);
    const given = this.parsePartial(partial as Record<string, unknown>, source, "key");
    const c: Record<string, unknown> = { ...this.defaults, ...given };
    for (const key of this.keys) c[key] = this.check(key, c[key], source, name(key));
    for (const rule of this.checks) {
      const bad = rule(c, name);
      if (bad) throw new ConfigError(source, bad[0], `${name(bad[0])} ${bad[1]}`);
    }
    return c as ConfigOf<F>;
  }

  private check(key: string, value: unknown, source: string, label: string): unknown {
    const r = this.fields[key]!.type.safeParse(value);
    if (r.success) return r.data;
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? `${label}[${issue.path.join("][")}]` : label;
    const msg = issue.code === "custom" || issue.message.startsWith("must") ? issue.message : `must be valid (${issue.message}), got ${show(value)}`;
    throw new ConfigError(source, key, `${where} ${msg}`);
  }
}

function clone<T>(v: T): T {
  return Array.isArray(v) ? ([...v] as T) : v;
}
