/**
 * Config field builders: each field is declared once — its type and checks (a zod schema whose
 * messages read "must be ..., got X"), its default, one doc line, and how the command line reads it —
 * and {@link ConfigSchema} derives the TS type, defaults, validation, config-file keys and CLI flags
 * from that one declaration.
 */
import { z } from "zod";

/** How a command-line flag carries a field's value. */
export type FlagArity = "value" | "boolean" | "list";

export interface FieldSpec<T = unknown> {
  /** Type and value checks; issue messages are phrased "must be ..., got X". */
  readonly type: z.ZodType<T>;
  readonly default: T;
  /** One line for docs and `--help`. */
  readonly doc: string;
  /** Flag arity: a value (`--x 3`), a switch (`--x` / `--no-x`) or a list (`--x a b`). */
  readonly arity: FlagArity;
  /** Converts one command-line string into the field's value (before the type check). */
  readonly fromString: (raw: string) => unknown;
  /** Other camelCase names accepted in config files and as flags (e.g. `maxLength` for `maxSeqLength`). */
  readonly aliases?: readonly string[];
  /** Flag name without dashes (default: the key in kebab-case); false = no flag. */
  readonly flag?: string | false;
  /** Placeholder in `--help`, e.g. "n" for `--max-steps <n>`. */
  readonly placeholder?: string;
}

/** Renders a value for an error message: numbers and bare words as is, strings with spaces quoted. */
export function show(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "nothing";
  if (typeof v === "string") return /^[\w.+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

/** A value of the wrong type for a message: strings quoted, lists and objects as JSON. */
const wrong = (v: unknown) => (typeof v === "string" ? JSON.stringify(v) : show(v));

/** A number from the command line; garbage stays a string so the type check names it. */
const toNumber = (raw: string): unknown => {
  const t = raw.trim();
  const v = Number(t);
  return t !== "" && !Number.isNaN(v) ? v : raw;
};

function numberType(rangeMsg: string, ok: (v: number) => boolean): z.ZodType<number> {
  const rangeErr = (input: unknown) => (input === Infinity || input === -Infinity ? `must be a finite number, got ${show(input)}` : `${rangeMsg}, got ${show(input)}`);
  return z
    .number({ error: (i) => (typeof i.input === "number" ? rangeErr(i.input) : `must be a number, got ${wrong(i.input)}`) })
    .refine(ok, { error: (i) => rangeErr(i.input) });
}

type Extra = Pick<FieldSpec, "aliases" | "flag" | "placeholder">;

/**
 * A float field. `range` phrases the check: { min } ">= min", { gt } "> gt", { min, lt } "in [min, lt)",
 * { min, max } "in [min, max]".
 */
export function numberField(def: number, doc: string, range: { min?: number; gt?: number; lt?: number; max?: number } = {}, extra: Extra = {}): FieldSpec<number> {
  const { min, gt, lt, max } = range;
  let msg = "must be a finite number";
  if (min !== undefined && lt !== undefined) msg = `must be in [${min}, ${lt})`;
  else if (min !== undefined && max !== undefined) msg = `must be in [${min}, ${max}]`;
  else if (gt !== undefined && max !== undefined) msg = `must be in (${gt}, ${max}]`;
  else if (gt !== undefined && lt !== undefined) msg = `must be in (${gt}, ${lt})`;
  else if (min !== undefined) msg = `must be >= ${min}`;
  else if (gt !== undefined) msg = `must be > ${gt}`;
  const ok = (v: number) =>
    Number.isFinite(v) && (min === undefined || v >= min) && (gt === undefined || v > gt) && (lt === undefined || v < lt) && (max === undefined || v <= max);
  return { type: numberType(msg, ok), default: def, doc, arity: "value", fromString: toNumber, placeholder: "x", ...extra };
}

/**
 * An integer field (at most 2^53 - 1, or `max`: "... up to max"): { min: 1 } "a positive integer",
 * { min: 0 } "a non-negative integer", { min: k } "an integer >= k", {} "an integer"; `orMinusOne`
 * also accepts -1 ("a positive integer or -1").
 */
export function intField(def: number, doc: string, opts: { min?: number; max?: number; orMinusOne?: boolean } = {}, extra: Extra = {}): FieldSpec<number> {
  const { min, max, orMinusOne } = opts;
  let what = "an integer";
  if (min === 1) what = "a positive integer";
  else if (min === 0) what = "a non-negative integer";
  else if (min !== undefined) what = `an integer >= ${min}`;
  if (max !== undefined) what += ` up to ${max}`;
  if (orMinusOne) what += " or -1";
  const ok = (v: number) => Number.isSafeInteger(v) && (max === undefined || v <= max) && ((min === undefined || v >= min) || (orMinusOne === true && v === -1));
  return { type: numberType(`must be ${what}`, ok), default: def, doc, arity: "value", fromString: toNumber, placeholder: "n", ...extra };
}

/** A true/false field; on the command line `--name` sets true and `--no-name` false. */
export function boolField(def: boolean, doc: string, extra: Extra = {}): FieldSpec<boolean> {
  return {
    type: z.boolean({ error: (i) => `must be true or false, got ${show(i.input)}` }),
    default: def,
    doc,
    arity: "boolean",
    fromString: (raw) => (raw === "true" ? true : raw === "false" ? false : raw),
    ...extra,
  };
}

/** true, false, or null ("unset": the method decides). */
export function nullableBoolField(doc: string, extra: Extra = {}): FieldSpec<boolean | null> {
  return {
    type: z.boolean({ error: (i) => `must be true, false or null, got ${show(i.input)}` }).nullable(),
    default: null,
    doc,
    arity: "boolean",
    fromString: (raw) => (raw === "true" ? true : raw === "false" ? false : raw === "null" ? null : raw),
    ...extra,
  };
}

/** A string field; `nonEmpty` is the phrase for an empty string, e.g. "is required" or "must be a field name". */
export function textField(def: string, doc: string, opts: { nonEmpty?: string } = {}, extra: Extra = {}): FieldSpec<string> {
  let type: z.ZodType<string> = z.string({ error: (i) => `must be a string, got ${wrong(i.input)}` });
  if (opts.nonEmpty !== undefined) type = type.refine((s) => s.length > 0, { error: () => opts.nonEmpty! });
  return { type, default: def, doc, arity: "value", fromString: (raw) => raw, placeholder: "s", ...extra };
}

/** One of a fixed set of strings ("must be a or b" / "must be one of a, b, c"). */
export function enumField<const V extends readonly [string, ...string[]]>(values: V, def: V[number], doc: string, extra: Extra = {}): FieldSpec<V[number]> {
  const list = values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(", ")}`;
  return {
    type: z.custom<V[number]>((v) => typeof v === "string" && (values as readonly string[]).includes(v), { error: (i) => `must be ${list}, got ${show(i.input)}` }),
    default: def,
    doc,
    arity: "value",
    fromString: (raw) => raw,
    placeholder: values.join("|"),
    ...extra,
  };
}

/** A list of non-empty strings; a single string is read as a one-entry list. `min` = required entries. */
export function stringListField(def: string[], doc: string, opts: { min?: number; what?: string } = {}, extra: Extra = {}): FieldSpec<string[]> {
  const what = opts.what ? `a list of ${opts.what} names (non-empty strings)` : "a list of non-empty strings";
  const type = z
    .preprocess((v) => (typeof v === "string" ? [v] : v), z.array(z.string().min(1), { error: (i) => `must be ${what}, got ${wrong(i.input)}` }))
    .refine((a) => a.length >= (opts.min ?? 0), { error: () => (opts.min === 1 ? `must list at least one ${opts.what ?? "entry"}` : `must list at least ${opts.min} entries`) });
  return { type: type as unknown as z.ZodType<string[]>, default: def, doc, arity: "list", fromString: (raw) => raw, placeholder: "s...", ...extra };
}

/** A string or a list of strings (e.g. PEFT's target_modules: "all-linear", "q_proj,v_proj" or a list). */
export function stringOrListField(def: string | string[] | null, doc: string, extra: Extra = {}): FieldSpec<string | string[] | null> {
  const err = (i: { input: unknown }) => `must be a string or a list of strings, got ${show(i.input)}`;
  return {
    type: z.union([z.string(), z.array(z.string())], { error: err }).nullable() as z.ZodType<string | string[] | null>,
    default: def,
    doc,
    arity: "value",
    fromString: (raw) => raw,
    placeholder: "names",
    ...extra,
  };
}

/** `inner`, or null ("unset"); null is the default unless given. */
export function nullable<T>(inner: FieldSpec<T>, def: T | null = null, doc = inner.doc): FieldSpec<T | null> {
  return { ...inner, type: inner.type.nullable(), default: def, doc } as FieldSpec<T | null>;
}

/**
 * A copy of `field` with other settings (a method's own default or doc line). Typed as `FieldSpec<T>`,
 * so a plugin's declaration files name `FieldSpec` from @ortrl/core instead of spelling out the field's
 * zod type (which would make zod a dependency of every plugin).
 */
export function withField<T>(field: FieldSpec<T>, changes: Partial<Pick<FieldSpec<T>, "default" | "doc" | "aliases" | "flag" | "placeholder">>): FieldSpec<T> {
  return { ...field, ...changes };
}
