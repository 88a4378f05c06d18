/**
 * The weights of a Hugging Face model directory: model.safetensors, or the shards listed by
 * model.safetensors.index.json, seen as one name -> tensor map; and the writer of that layout, sharded
 * as transformers' save_pretrained shards (huggingface_hub's split_state_dict_into_shards). (config.json
 * is read by model/llama-config.ts, generation_config.json by model/generation-config.ts.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeJsonAtomic } from "./atomic.js";
import { isObject, readJson } from "./json-fields.js";
import { SAFETENSORS_DTYPE_BYTES, SafetensorsFile, type SafetensorsDType, type SafetensorsTensorInfo, type TensorSource, writeSafetensors } from "./safetensors.js";

/** Tensors of a model directory: one safetensors file or several shards, seen as one name -> tensor map. */
export class ModelWeights implements TensorSource {
  private constructor(
    readonly dir: string,
    /** The open safetensors files (one, or one per shard). */
    readonly files: readonly SafetensorsFile[],
    private readonly byName: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  /**
   * Opens `dir/model.safetensors`, or else the shards named by `dir/model.safetensors.index.json` (`weight_map`:
   * tensor name -> shard file name). With an index, the tensors are exactly those of weight_map.
   * @throws Error naming the directory and the files looked for when neither exists; naming the index, tensor
   *   and shard when a shard is missing or lacks a tensor; and any safetensors validation error.
   */
  static open(dir: string): ModelWeights {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new Error(`model directory ${dir} does not exist`);
    const single = path.join(dir, "model.safetensors");
    if (fs.existsSync(single)) {
      const file = SafetensorsFile.open(single);
      return new ModelWeights(dir, [file], new Map(file.tensorNames.map((n) => [n, file])));
    }
    const indexPath = path.join(dir, "model.safetensors.index.json");
    if (!fs.existsSync(indexPath)) {
      const bin = ["pytorch_model.bin", "pytorch_model.bin.index.json"].filter((n) => fs.existsSync(path.join(dir, n)));
      const hint = bin.length ? ` (found ${bin.join(", ")}: PyTorch pickles are not read; convert them to safetensors)` : "";
      throw new Error(`${dir}: no model weights: looked for model.safetensors and model.safetensors.index.json${hint}`);
    }
    return ModelWeights.openSharded(dir, indexPath);
  }

  private static openSharded(dir: string, indexPath: string): ModelWeights {
    const index = readJson(indexPath);
    const wm = isObject(index) ? index["weight_map"] : undefined;
    if (!isObject(wm)) throw new Error(`${indexPath}: no 'weight_map' object`);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(wm)) {
      if (typeof shard !== "string" || !shard || path.isAbsolute(shard) || shard.split(/[\\/]/).includes(".."))
        throw new Error(`${indexPath}: weight_map entry '${name}' has bad shard file name ${JSON.stringify(shard)}`);
      byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    }
    const files: SafetensorsFile[] = [];
    const byName = new Map<string, SafetensorsFile>();
    try {
      for (const [shard, names] of byShard) {
        const p = path.join(dir, shard);
        if (!fs.existsSync(p)) {
          const others = names.length > 1 ? ` (and ${names.length - 1} other tensors)` : "";
          throw new Error(`${indexPath}: weight_map maps '${names[0]}'${others} to shard '${shard}', which does not exist in ${dir}`);
        }
        const file = SafetensorsFile.open(p);
        files.push(file);
        for (const n of names) {
          if (!file.has(n)) throw new Error(`${indexPath}: weight_map maps '${n}' to shard '${shard}', which has no such tensor`);
          byName.set(n, file);
        }
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    return new ModelWeights(dir, files, new Map(Object.keys(wm).map((n) => [n, byName.get(n)!])));
  }

  /** Tensor names (file order for one file, weight_map order for shards). */
  get tensorNames(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Tensors stored in a shard that weight_map does not map to that shard (never read: transformers would report
   * them as unexpected too). Always empty for a single model.safetensors.
   */
  get unindexedTensorNames(): string[] {
    const out: string[] = [];
    for (const f of this.files) for (const n of f.tensorNames) if (this.byName.get(n) !== f) out.push(n);
    return out;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The file holding `name`. @throws Error naming the directory for an unknown tensor. */
  fileOf(name: string): SafetensorsFile {
    const f = this.byName.get(name);
    if (!f) throw new Error(`model weights in ${this.dir}: no tensor '${name}'`);
    return f;
  }

  info(name: string): SafetensorsTensorInfo {
    return this.fileOf(name).info(name);
  }

  readRaw(name: string): Uint8Array {
    return this.fileOf(name).readRaw(name);
  }

  readFloat32(name: string): Float32Array {
    return this.fileOf(name).readFloat32(name);
  }

  readFloat32Into(name: string, out: Float32Array): void {
    this.fileOf(name).readFloat32Into(name, out);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

/** Opens a model directory's weights (see {@link ModelWeights.open}). Call `close()` when done. */
export function openModelWeights(dir: string): ModelWeights {
  return ModelWeights.open(dir);
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

/** The single-file weights of a model directory. */
export const WEIGHTS_FILE = "model.safetensors";
/** The index of sharded weights: `{"metadata": {"total_size": bytes}, "weight_map": {tensor: shard file}}`. */
export const WEIGHTS_INDEX_FILE = "model.safetensors.index.json";
/** transformers' default `max_shard_size` ("5GB"), in bytes. */
export const DEFAULT_MAX_SHARD_SIZE = 5_000_000_000;

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KIB: 2 ** 10, MIB: 2 ** 20, GIB: 2 ** 30, TIB: 2 ** 40 };

/**
 * A size in bytes written as transformers' `max_shard_size` is: an integer (bytes), or a number and a unit, KB / MB /
 * GB / TB (powers of 1000, as transformers) or KiB / MiB / GiB / TiB (powers of 1024), case-insensitive, e.g. "5GB",
 * "500MB", "100KB", "1.5GiB", 1000000. The result is rounded down to whole bytes.
 * @throws Error "must be a size in bytes ..., got X" for anything else, or a size below 1 byte.
 */
export function parseByteSize(size: string | number): number {
  const bad = () => new Error(`must be a size in bytes: an integer, or a number and a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB) such as 5GB or 500MB, got ${JSON.stringify(size)}`);
  let bytes: number;
  if (typeof size === "number") bytes = size;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(size);
    if (!m) throw bad();
    const unit = m[2]!.toUpperCase() || "B";
    const mult = SIZE_UNITS[unit];
    if (mult === undefined || (unit === "B" && m[1]!.includes("."))) throw bad();
    bytes = Math.floor(Number(m[1]) * mult);
  }
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw bad();
  return bytes;
}

/** A tensor to write with {@link writeModelWeights}. */
export interface ModelTensorToWrite {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /**
   * The tensor's data in `dtype` (F16/BF16 as Uint16Array bits), asked for only when its shard is written, so that
   * converted or computed tensors of one shard at a time are in memory.
   */
  data: () => ArrayBufferView;
}

/** Bytes of a tensor's data (numel x element size). */
function byteLengthOf(t: Pick<ModelTensorToWrite, "dtype" | "shape">): number {
  return t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
}

/**
 * Groups tensors into shards as huggingface_hub's split_state_dict_into_shards (what transformers' save_pretrained
 * uses): in the given order, a tensor joins the current shard unless that would take it over `maxShardSize` bytes
 * (then the current shard is closed and a new one started); a tensor larger than `maxShardSize` gets a shard of its
 * own (placed before the shard being filled). Sizes count tensor data only, not the file headers.
 * @returns the tensor names of each shard, in file order.
 */
export function planShards(tensors: readonly Pick<ModelTensorToWrite, "name" | "dtype" | "shape">[], maxShardSize: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let currentSize = 0;
  for (const t of tensors) {
    const size = byteLengthOf(t);
    if (size > maxShardSize) {
      shards.push([t.name]);
      continue;
    }
    if (currentSize + size > maxShardSize && current.length) {
      shards.push(current);
      current = [];
      currentSize = 0;
    }
    current.push(t.name);
    currentSize += size;
  }
  if (current.length) shards.push(current);
  return shards;
}

/** What {@link writeModelWeights} wrote. */
export interface WrittenWeights {
  /** File names in the directory, shards first then the index (one name when unsharded). */
  files: string[];
  /** Bytes of tensor data (the index's metadata.total_size). */
  totalSize: number;
}

/**
 * Writes a model's weights into `dir` as transformers' save_pretrained does: all in `model.safetensors` when they fit
 * in `maxShardSize` bytes, else shards `model-00001-of-0000N.safetensors` ({@link planShards}) and
 * `model.safetensors.index.json` (`{"metadata": {"total_size": bytes of tensor data}, "weight_map": {name: shard}}`,
 * keys sorted, 2-space indent). Every file is written atomically, the index last; only one shard's tensor data is
 * asked for at a time. Existing weight files of other names in `dir` are left alone (the caller stages into an
 * empty directory).
 * @param maxShardSize bytes of tensor data per shard (default {@link DEFAULT_MAX_SHARD_SIZE}).
 * @param metadata the safetensors `__metadata__` of every file (transformers writes `{"format": "pt"}`).
 * @throws Error for a maxShardSize that is not a positive integer, a duplicate tensor name, or data whose size
 *   disagrees with its dtype and shape (naming the file and tensor); FileSystemError naming the file that could not
 *   be written.
 */
export function writeModelWeights(dir: string, tensors: readonly ModelTensorToWrite[], opts: { maxShardSize?: number; metadata?: Record<string, string> } = {}): WrittenWeights {
  const maxShardSize = opts.maxShardSize ?? DEFAULT_MAX_SHARD_SIZE;
  if (!Number.isSafeInteger(maxShardSize) || maxShardSize < 1) throw new Error(`writeModelWeights: maxShardSize must be a positive integer (bytes), got ${maxShardSize}`);
  const byName = new Map<string, ModelTensorToWrite>();
  for (const t of tensors) {
    if (byName.has(t.name)) throw new Error(`writeModelWeights: tensor '${t.name}' is given twice`);
    byName.set(t.name, t);
  }
  const shards = planShards(tensors, maxShardSize);
  const totalSize = tensors.reduce((n, t) => n + byteLengthOf(t), 0);
  const names = shards.length <= 1 ? [WEIGHTS_FILE] : shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`);
  shards.forEach((shard, i) => {
    const data = new Map(shard.map((n) => {
      const t = byName.get(n)!;
      return [n, { dtype: t.dtype, shape: t.shape, data: t.data() }];
    }));
    writeSafetensors(path.join(dir, names[i]!), data, opts.metadata);
  });
  if (shards.length === 0) writeSafetensors(path.join(dir, WEIGHTS_FILE), {}, opts.metadata);
  if (shards.length <= 1) return { files: names, totalSize };
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => shard.forEach((n) => (weightMap[n] = names[i]!)));
  const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  writeJsonAtomic(path.join(dir, WEIGHTS_INDEX_FILE), { metadata: { total_size: totalSize }, weight_map: sorted });
  return { files: [...names, WEIGHTS_INDEX_FILE], totalSize };
}
