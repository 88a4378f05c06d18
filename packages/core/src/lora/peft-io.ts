/**
 * PEFT adapter directories: `adapter_config.json` + `adapter_model.safetensors`, tensors named
 * `base_model.model.<module>.lora_A.weight` ([r, in]) / `.lora_B.weight` ([out, r]); modules_to_save
 * tensors as `base_model.model.<name>` (PEFT strips `modules_to_save.<adapter>` on save).
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../io/atomic.js";
import { SafetensorsFile, writeSafetensors } from "../io/safetensors.js";
import type { LlamaArch } from "../model/llama-arch.js";
import { layerLinears } from "../model/llama-arch.js";
import type { CausalLM } from "../model/causal-lm.js";
import { ParamStore } from "../params/param-store.js";
import type { LoraAdapter } from "./adapter.js";
import {
  LORA_DEFAULTS,
  type LoraConfig,
  linearModuleNames,
  loraScaling,
  resolveAdapterModules,
  resolveLoraConfig,
  resolveModulesToSave,
} from "./lora-config.js";
import { assertFinite, formatNames } from "../model/weight-checks.js";

const PREFIX = "base_model.model.";

/** adapter_config.json content for a config (PEFT's keys). */
export function peftConfigJson(c: LoraConfig, baseModel: string): Record<string, unknown> {
  return {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: baseModel,
    r: c.r,
    lora_alpha: c.loraAlpha,
    lora_dropout: c.loraDropout,
    target_modules: typeof c.targetModules === "string" ? c.targetModules : [...c.targetModules].sort(),
    modules_to_save: c.modulesToSave.length ? [...c.modulesToSave] : null,
    bias: c.bias,
    use_rslora: c.useRslora,
    use_dora: false,
    fan_in_fan_out: false,
    init_lora_weights: true,
    inference_mode: true,
  };
}

/** adapter_config.json as read: the LoraConfig plus the PEFT fields that narrow which modules it covers. */
interface PeftConfigFile {
  path: string;
  config: LoraConfig;
  /** `layers_to_transform` as a list of layer indices; null = every layer. */
  layersToTransform: number[] | null;
  /** `exclude_modules` (a list or a regex); null = none. */
  excludeModules: string[] | string | null;
  /** `base_model_name_or_path` (for messages); null when absent. */
  baseModel: string | null;
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
const isEmpty = (v: unknown) => v === undefined || v === null || (typeof v === "object" && Object.keys(v as object).length === 0);

/**
 * Reads adapter_config.json into a LoraConfig. An absent or null `target_modules` is PEFT's default for Llama,
 * Mistral and Qwen2 (q_proj, v_proj).
 * @throws Error naming the file and field (missing file, peft_type other than LORA, DoRA, fan_in_fan_out,
 *   rank_pattern / alpha_pattern (per-module ranks and scalings are not supported), a target_modules that is
 *   neither a string nor a list of strings...).
 */
export function readPeftConfig(dir: string): LoraConfig {
  return readPeftConfigFile(dir).config;
}

function readPeftConfigFile(dir: string): PeftConfigFile {
  const path = join(dir, "adapter_config.json");
  if (!existsSync(dir)) throw new Error(`adapter directory ${dir} does not exist`);
  if (!existsSync(path)) throw new Error(`${dir}: no adapter_config.json (not a PEFT adapter directory)`);
  let j: Record<string, any>;
  try {
    j = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: invalid JSON (${(e as Error).message})`);
  }
  if (j.peft_type === undefined) throw new Error(`${path}: no 'peft_type' field (expected "LORA")`);
  if (j.peft_type !== "LORA") throw new Error(`${path}: peft_type ${JSON.stringify(j.peft_type)} is not supported (expected "LORA")`);
  if (j.use_dora) throw new Error(`${path}: use_dora adapters are not supported`);
  if (j.fan_in_fan_out) throw new Error(`${path}: fan_in_fan_out adapters are not supported`);
  if (typeof j.r !== "number") throw new Error(`${path}: field 'r' must be a number`);
  if (typeof j.lora_alpha !== "number") throw new Error(`${path}: field 'lora_alpha' must be a number`);
  for (const k of ["rank_pattern", "alpha_pattern"]) {
    if (!isEmpty(j[k])) throw new Error(`${path}: field '${k}' is ${JSON.stringify(j[k])}: per-module ranks and alphas are not supported`);
  }
  const tm = j.target_modules ?? LORA_DEFAULTS.targetModules;
  if (typeof tm !== "string" && !isStringList(tm)) throw new Error(`${path}: field 'target_modules' must be a string or a list of strings, got ${JSON.stringify(tm)}`);
  const mts = j.modules_to_save ?? [];
  if (!isStringList(mts)) throw new Error(`${path}: field 'modules_to_save' must be a list of strings or null, got ${JSON.stringify(mts)}`);
  const ltt = j.layers_to_transform ?? null;
  if (ltt !== null && !Number.isInteger(ltt) && !(Array.isArray(ltt) && ltt.every((i) => Number.isInteger(i)))) {
    throw new Error(`${path}: field 'layers_to_transform' must be a layer index, a list of them or null, got ${JSON.stringify(ltt)}`);
  }
  const ex = j.exclude_modules ?? null;
  if (ex !== null && typeof ex !== "string" && !isStringList(ex)) throw new Error(`${path}: field 'exclude_modules' must be a string, a list of strings or null, got ${JSON.stringify(ex)}`);
  const config = resolveLoraConfig(
    {
      r: j.r,
      loraAlpha: j.lora_alpha,
      loraDropout: j.lora_dropout ?? 0,
      targetModules: tm,
      modulesToSave: mts,
      useRslora: !!j.use_rslora,
      bias: j.bias ?? "none",
    },
    path,
  );
  const baseModel = typeof j.base_model_name_or_path === "string" && j.base_model_name_or_path ? j.base_model_name_or_path : null;
  return { path, config, layersToTransform: ltt === null ? null : Array.isArray(ltt) ? ltt : [ltt], excludeModules: ex, baseModel };
}

/** The members of `want` missing from `have` and those of `have` not in `want`; null when the sets are equal. */
function setDifference(want: ReadonlySet<string>, have: ReadonlySet<string>): { missing: string[]; extra: string[] } | null {
  const missing = [...want].filter((m) => !have.has(m));
  const extra = [...have].filter((m) => !want.has(m));
  return missing.length || extra.length ? { missing, extra } : null;
}


/**
 * Loads a PEFT LoRA adapter for a model. The modules it covers are read from the tensors present
 * (lora_A/lora_B pairs) and must be exactly those adapter_config.json selects (target_modules, narrowed by
 * layers_to_transform and exclude_modules); its modules_to_save tensors must be exactly those of the config's
 * modules_to_save. Shapes are checked against the model and r, and every value must be finite. Nothing is
 * copied into `baseParams` unless all checks pass.
 * @param baseParams the model's parameters: modules_to_save tensors of the adapter are copied into
 *   it (their previous values kept in `originals`).
 * @throws Error naming the file and tensor on a missing file, unpaired or mis-shaped tensors, NaN/Inf values,
 *   or tensors that disagree with adapter_config.json (naming the modules on each side).
 */
export function loadPeftAdapter(dir: string, arch: LlamaArch, baseParams: ParamStore): LoraAdapter {
  const cf = readPeftConfigFile(dir);
  const config = cf.config;
  let wanted: Set<string>;
  let wantedToSave: string[];
  try {
    wanted = resolveAdapterModules(arch, config, { layersToTransform: cf.layersToTransform, excludeModules: cf.excludeModules });
    wantedToSave = resolveModulesToSave(baseParams.names, config);
  } catch (e) {
    throw new Error(`${cf.path}: ${(e as Error).message}`);
  }
  const file = join(dir, "adapter_model.safetensors");
  if (!existsSync(file)) throw new Error(`${dir}: no adapter_model.safetensors`);
  const st = SafetensorsFile.open(file);
  try {
    const shapes = new Map<string, [number, number]>();
    for (let i = 0; i < arch.numHiddenLayers; i++) for (const l of layerLinears(arch)) shapes.set(`model.layers.${i}.${l.name}`, [l.out, l.in]);
    const modules = new Set<string>();
    const toSave: string[] = [];
    for (const raw of st.tensorNames) {
      const name = raw.replace(".default.", ".");
      if (!name.startsWith(PREFIX)) throw new Error(`${file}: tensor '${raw}' does not start with '${PREFIX}'`);
      const inner = name.slice(PREFIX.length);
      const m = /^(.*)\.lora_([AB])\.weight$/.exec(inner);
      if (m) {
        const otherModel = `the adapter was made for another model${cf.baseModel ? ` (adapter_config.json base_model_name_or_path ${JSON.stringify(cf.baseModel)})` : ""}`;
        if (!shapes.has(m[1]!)) throw new Error(`${file}: tensor '${raw}' targets unknown module '${m[1]}' (the model has ${arch.numHiddenLayers} layer${arch.numHiddenLayers === 1 ? "" : "s"}): ${otherModel}`);
        // The dimension the model fixes (lora_A [r, in], lora_B [out, r]), checked before the module lists, whose
        // disagreement would hide that the adapter belongs to another model.
        const [out, inp] = shapes.get(m[1]!)!;
        const shape = st.info(raw).shape;
        if (shape.length !== 2 || (m[2] === "A" ? shape[1] !== inp : shape[0] !== out)) {
          const want = m[2] === "A" ? `[r, ${inp}]` : `[${out}, r]`;
          throw new Error(`${file}: tensor '${raw}' has shape [${shape.join(", ")}], but the model's '${m[1]}.weight' is [${out}, ${inp}], so lora_${m[2]} must be ${want}: ${otherModel}`);
        }
        modules.add(m[1]!);
      } else if (baseParams.has(inner)) toSave.push(inner);
      else throw new Error(`${file}: tensor '${raw}' is neither a lora_A/lora_B weight nor a model parameter`);
    }
    if (modules.size === 0) throw new Error(`${file}: no lora_A tensors`);
    const order = new Map(linearModuleNames(arch).map((m, i) => [m, i]));
    const diff = setDifference(wanted, new Set([...modules].sort((a, b) => order.get(a)! - order.get(b)!)));
    if (diff) {
      const parts: string[] = [];
      if (diff.missing.length) parts.push(`the config selects ${diff.missing.length} module(s) without lora_A/lora_B tensors: ${formatNames(diff.missing)}`);
      if (diff.extra.length) parts.push(`the tensors adapt ${diff.extra.length} module(s) the config does not select: ${formatNames(diff.extra)}`);
      throw new Error(`${dir}: adapter_config.json target_modules ${JSON.stringify(config.targetModules)} disagree with adapter_model.safetensors: ${parts.join("; ")}`);
    }
    const saveDiff = setDifference(new Set(wantedToSave), new Set(toSave));
    if (saveDiff) {
      const parts: string[] = [];
      if (saveDiff.missing.length) parts.push(`no tensor for ${formatNames(saveDiff.missing)}`);
      if (saveDiff.extra.length) parts.push(`tensors of ${formatNames(saveDiff.extra)} that it does not list`);
      throw new Error(`${dir}: adapter_config.json modules_to_save ${JSON.stringify(config.modulesToSave)} disagree with adapter_model.safetensors: ${parts.join("; ")}`);
    }
    const r = config.r;
    const params = new ParamStore([...modules].flatMap((m) => {
      const [out, inp] = shapes.get(m)!;
      return [
        { name: `${m}.lora_A.weight`, shape: [r, inp] },
        { name: `${m}.lora_B.weight`, shape: [out, r] },
      ];
    }));
    const find = (inner: string) => [`${PREFIX}${inner}`, `${PREFIX}${inner.replace(/\.weight$/, ".default.weight")}`].find((n) => st.has(n));
    for (const name of params.names) {
      const key = find(name);
      if (!key) throw new Error(`${file}: missing '${PREFIX}${name}' (lora_A and lora_B come in pairs)`);
      const info = st.info(key);
      const want = params.shape(name);
      if (info.shape.length !== 2 || info.shape[0] !== want[0] || info.shape[1] !== want[1]) {
        throw new Error(`${file}: '${key}' has shape [${info.shape.join(", ")}], expected [${want.join(", ")}] (r=${r})`);
      }
      st.readFloat32Into(key, params.get(name));
      assertFinite(params.get(name), file, key);
    }
    // Read and check every modules_to_save tensor before touching the base parameters.
    const saved = toSave.map((name) => {
      const key = find(name)!;
      const want = baseParams.shape(name);
      const info = st.info(key);
      if (info.shape.length !== want.length || info.shape.some((d, i) => d !== want[i])) {
        throw new Error(`${file}: '${key}' has shape [${info.shape.join(", ")}], the model's '${name}' [${want.join(", ")}]`);
      }
      const data = st.readFloat32(key);
      assertFinite(data, file, key);
      return { name, data };
    });
    const originals = new Map<string, Float32Array>();
    for (const { name, data } of saved) {
      originals.set(name, Float32Array.from(baseParams.get(name)));
      baseParams.get(name).set(data);
    }
    return {
      config,
      placement: { r, scaling: loraScaling(config), modules, dropout: false },
      params,
      modulesToSave: toSave,
      originals,
    };
  } finally {
    st.close();
  }
}

/** Writes a PEFT adapter directory (files written atomically). */
export function savePeftAdapter(dir: string, adapter: LoraAdapter, baseParams: ParamStore, baseModel: string): void {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
  for (const n of adapter.params.names) tensors[`${PREFIX}${n}`] = { dtype: "F32", shape: [...adapter.params.shape(n)], data: adapter.params.get(n) };
  for (const n of adapter.modulesToSave) tensors[`${PREFIX}${n}`] = { dtype: "F32", shape: [...baseParams.shape(n)], data: baseParams.get(n) };
  writeSafetensors(join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
  writeJsonAtomic(join(dir, "adapter_config.json"), peftConfigJson(adapter.config, baseModel));
}

/**
 * Loads a PEFT adapter directory for `lm`: returns the adapter and a view of `lm` that computes with
 * it (`lm` itself is not changed, except that the adapter's modules_to_save tensors are copied into
 * the shared base parameters, their previous values kept in `adapter.originals`).
 * @throws Error naming the file and tensor (see {@link loadPeftAdapter}).
 */
export async function attachAdapterFromDir(lm: CausalLM, dir: string): Promise<{ lm: CausalLM; adapter: LoraAdapter }> {
  const adapter = loadPeftAdapter(dir, lm.arch, lm.params);
  return { lm: lm.withAdapter(adapter), adapter };
}
