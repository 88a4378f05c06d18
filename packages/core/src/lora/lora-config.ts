/**
 * LoRA configuration with PEFT's fields and defaults (peft.LoraConfig), camelCased:
 * r 8, loraAlpha 8, loraDropout 0, targetModules (default for Llama: q_proj, v_proj), bias "none".
 * `r: 0` means full fine-tuning (no adapter), as Unsloth users expect.
 */
import type { LlamaArch } from "../model/llama-arch.js";
import { layerLinears } from "../model/llama-arch.js";
import { boolField, intField, numberField, stringOrListField } from "../config/fields.js";
import type { ConfigOf } from "../config/schema.js";

export interface LoraConfig {
  /** Rank of the update (0 = full fine-tuning). */
  r: number;
  /** Scaling numerator: scaling = loraAlpha / r (or / sqrt(r) with useRslora). */
  loraAlpha: number;
  /** Dropout probability on the adapter input. */
  loraDropout: number;
  /** Module name suffixes (e.g. ["q_proj", "v_proj"]), a regular expression matched against full names, or "all-linear". */
  targetModules: readonly string[] | string;
  /** Modules trained fully and saved with the adapter, e.g. ["embed_tokens", "lm_head"]. */
  modulesToSave: readonly string[];
  /** Rank-stabilised scaling alpha / sqrt(r) (Kalajdzievski 2023). */
  useRslora: boolean;
  /** Only "none" is supported. */
  bias: "none";
}

export const LORA_DEFAULTS: LoraConfig = {
  r: 8,
  loraAlpha: 8,
  loraDropout: 0,
  targetModules: ["q_proj", "v_proj"],
  modulesToSave: [],
  useRslora: false,
  bias: "none",
};

/**
 * Fills defaults and validates.
 * @throws Error naming the field for a negative r, dropout outside [0, 1), an unsupported bias, or
 *   target modules that match nothing.
 */
export function resolveLoraConfig(partial: Partial<LoraConfig>, source = "LoraConfig"): LoraConfig {
  const c: LoraConfig = { ...LORA_DEFAULTS, ...partial };
  if (!Number.isInteger(c.r) || c.r < 0) throw new Error(`${source}: r must be a non-negative integer, got ${c.r}`);
  if (!(c.loraAlpha > 0)) throw new Error(`${source}: lora_alpha must be > 0, got ${c.loraAlpha}`);
  if (!(c.loraDropout >= 0 && c.loraDropout < 1)) throw new Error(`${source}: lora_dropout must be in [0, 1), got ${c.loraDropout}`);
  if (c.bias !== "none") throw new Error(`${source}: bias '${c.bias}' is not supported (only "none")`);
  return c;
}

/** lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA. */
export function loraScaling(c: LoraConfig): number {
  return c.useRslora ? c.loraAlpha / Math.sqrt(c.r) : c.loraAlpha / c.r;
}

/** Full names of the decoder's linear layers (what LoRA can target), layer by layer. */
export function linearModuleNames(arch: LlamaArch): string[] {
  const all: string[] = [];
  for (let i = 0; i < arch.numHiddenLayers; i++) for (const l of layerLinears(arch)) all.push(`model.layers.${i}.${l.name}`);
  return all;
}

/** PEFT's list matching: a module matches an entry it equals or ends with "." + entry. */
const matchesEntry = (module: string, entry: string) => module === entry || module.endsWith(`.${entry}`);

/**
 * Modules (full names) that a PEFT-style module pattern selects among `all`: "all-linear" is all of them, a string
 * is a regular expression that must match the whole name, a list selects by {@link matchesEntry}.
 * @param what names the field in errors, e.g. "LoRA target_modules".
 * @throws Error naming the pattern when a string is not a valid regular expression.
 */
function selectModules(all: readonly string[], t: readonly string[] | string, what: string): string[] {
  if (t === "all-linear") return [...all];
  if (typeof t === "string") {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${t})$`);
    } catch (e) {
      throw new Error(`${what} ${JSON.stringify(t)} is neither all-linear, a list of module names nor a valid regular expression (${(e as Error).message})`);
    }
    return all.filter((m) => re.test(m));
  }
  return all.filter((m) => t.some((k) => matchesEntry(m, k)));
}

/**
 * Full module names of the decoder's linear layers that the config targets (PEFT matching: a list
 * entry matches a module whose name equals it or ends with "." + entry; a string is a regex that
 * must match the whole name; "all-linear" is every linear layer except the output head).
 * @throws Error when a regex (or the list as a whole) matches nothing, or when list entries match no linear layer,
 *   naming those entries and the module names there are (q_proj, k_proj, ..., down_proj).
 */
export function resolveTargetModules(arch: LlamaArch, c: LoraConfig): Set<string> {
  const all = linearModuleNames(arch);
  const t = c.targetModules;
  if (Array.isArray(t)) {
    const unmatched = t.filter((k) => !all.some((m) => matchesEntry(m, k)));
    if (unmatched.length) {
      const names = layerLinears(arch).map((l) => l.name.split(".").pop()!);
      throw new Error(
        `LoRA target_modules ${unmatched.map((k) => JSON.stringify(k)).join(", ")} match no linear layer of the model ` +
          `(its linear layers: ${names.join(", ")}, in model.layers.0-${arch.numHiddenLayers - 1}; embed_tokens and lm_head take modules_to_save, not LoRA)`,
      );
    }
  }
  const picked = selectModules(all, t, "LoRA target_modules");
  if (picked.length === 0) throw new Error(`LoRA target_modules ${JSON.stringify(t)} match no linear layer of the model`);
  return new Set(picked);
}

/**
 * The modules an adapter_config.json describes: {@link resolveTargetModules}, restricted to PEFT's
 * `layers_to_transform` (layer indices; null = all) and less PEFT's `exclude_modules` (a list or regex; null = none).
 * @throws Error as resolveTargetModules, and naming the field for a bad layers_to_transform / exclude_modules.
 */
export function resolveAdapterModules(
  arch: LlamaArch,
  c: LoraConfig,
  opts: { layersToTransform?: readonly number[] | null; excludeModules?: readonly string[] | string | null } = {},
): Set<string> {
  let picked = [...resolveTargetModules(arch, c)];
  const layers = opts.layersToTransform;
  if (layers) {
    const bad = layers.filter((i) => !Number.isInteger(i) || i < 0 || i >= arch.numHiddenLayers);
    if (bad.length) throw new Error(`LoRA layers_to_transform ${JSON.stringify(bad)} are not layers of the model (0-${arch.numHiddenLayers - 1})`);
    picked = picked.filter((m) => layers.includes(Number(/^model\.layers\.(\d+)\./.exec(m)![1])));
  }
  const ex = opts.excludeModules;
  if (ex !== undefined && ex !== null) {
    const excluded = new Set(selectModules(picked, ex, "LoRA exclude_modules"));
    picked = picked.filter((m) => !excluded.has(m));
  }
  return new Set(picked);
}

/** Base tensor names of `modulesToSave` entries (embed_tokens, lm_head, norms...). */
export function resolveModulesToSave(paramNames: readonly string[], c: LoraConfig): string[] {
  const out: string[] = [];
  for (const key of c.modulesToSave) {
    const hits = paramNames.filter((n) => n === `${key}.weight` || n.endsWith(`.${key}.weight`));
    if (hits.length === 0) throw new Error(`LoRA modules_to_save entry '${key}' matches no parameter`);
    out.push(...hits);
  }
  return [...new Set(out)];
}

/**
 * LoRA options as trainers take them (TRL's ModelConfig names: lora_r, lora_alpha, lora_dropout,
 * lora_target_modules, lora_modules_to_save, use_rslora), declared once for config files and flags.
 * Defaults are PEFT's; LoRA is used when any of them is given (see {@link loraConfigFromOptions}).
 */
export const LORA_OPTION_FIELDS = {
  loraR: intField(8, "LoRA rank; 0 = full fine-tuning", { min: 0 }, { placeholder: "r" }),
  loraAlpha: numberField(8, "LoRA alpha (scaling alpha / r)", { gt: 0 }, { placeholder: "a" }),
  loraDropout: numberField(0, "dropout on the LoRA input", { min: 0, lt: 1 }, { placeholder: "p" }),
  loraTargetModules: stringOrListField(null, "modules to adapt: all-linear, names such as q_proj,v_proj (PEFT default), or a regex over full names", { flag: "target-modules", placeholder: "modules" }),
  loraModulesToSave: stringOrListField(null, "modules trained fully and saved with the adapter, e.g. embed_tokens,lm_head", { placeholder: "modules" }),
  useRslora: boolField(false, "rank-stabilised LoRA scaling alpha / sqrt(r)"),
};
export type LoraOptions = ConfigOf<typeof LORA_OPTION_FIELDS>;

/**
 * "all-linear" stays as is; a comma-separated list of module names ("q_proj,v_proj") or a list
 * becomes a list (suffix matches, as PEFT's lists); any other string is a regular expression over
 * full module names (PEFT's string form).
 */
export function parseTargetModules(v: string | readonly string[]): string | string[] {
  if (Array.isArray(v)) return v.map((s) => String(s).trim()).filter(Boolean);
  const s = (v as string).trim();
  if (s === "all-linear") return s;
  if (/^[\w.]+(\s*,\s*[\w.]+)*$/.test(s)) return s.split(",").map((x) => x.trim());
  return s;
}

const nameList = (v: string | readonly string[]): string[] => (Array.isArray(v) ? [...v] : (v as string).split(",")).map((s) => String(s).trim()).filter(Boolean);

/** The LoRA config that LoRA options ask for, or null (full fine-tuning) when none is given. */
export function loraConfigFromOptions(o: Partial<LoraOptions>): Partial<LoraConfig> | null {
  const given = (Object.keys(LORA_OPTION_FIELDS) as (keyof LoraOptions)[]).filter((k) => o[k] !== undefined && o[k] !== null);
  if (given.length === 0) return null;
  const lora: Partial<LoraConfig> = {};
  if (o.loraR != null) lora.r = o.loraR;
  if (o.loraAlpha != null) lora.loraAlpha = o.loraAlpha;
  if (o.loraDropout != null) lora.loraDropout = o.loraDropout;
  if (o.loraTargetModules != null) lora.targetModules = parseTargetModules(o.loraTargetModules);
  if (o.loraModulesToSave != null) lora.modulesToSave = nameList(o.loraModulesToSave);
  if (o.useRslora != null) lora.useRslora = o.useRslora;
  return lora;
}
