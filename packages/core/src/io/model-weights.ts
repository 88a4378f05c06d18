/**
 * The weights of a Hugging Face model directory: model.safetensors, or the shards listed by
 * model.safetensors.index.json, seen as one name -> tensor map. (config.json is read by
 * model/llama-config.ts, generation_config.json by model/generation-config.ts.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { isObject, readJson } from "./json-fields.js";
import { SafetensorsFile, type SafetensorsTensorInfo, type TensorSource } from "./safetensors.js";

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
