/**
 * Reading JSON configuration files (config.json, generation_config.json, model.safetensors.index.json):
 * `readJson` with errors that name the file, and `Fields`, typed access to an object's keys whose errors
 * name the source and the key. Internal helpers; not exported from the package index.
 */
import * as fs from "node:fs";

/** Parses a JSON file. @throws Error naming the file when it cannot be read or is not valid JSON. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** A JSON object: not null, not an array. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Typed access to a JSON object's keys, remembering which were read; errors name the source and key. */
export class Fields {
  private readonly used = new Set<string>();
  constructor(private readonly obj: Record<string, unknown>, private readonly source: string) {}

  /** The raw value (undefined when absent), marked as read. */
  raw(key: string): unknown {
    this.used.add(key);
    return this.obj[key];
  }

  fail(key: string, what: string): never {
    throw new Error(`${this.source}: field '${key}' ${what}, got ${JSON.stringify(this.obj[key])}`);
  }

  /** A positive integer; `def` when absent or null (required when `def` is undefined). */
  posInt(key: string, def?: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return def ?? this.fail(key, "is required (a positive integer)");
    if (!Number.isSafeInteger(v) || (v as number) <= 0) this.fail(key, "must be a positive integer");
    return v as number;
  }

  posNumber(key: string, def: number): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) this.fail(key, "must be a positive number");
    return v;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return def;
    if (typeof v !== "boolean") this.fail(key, "must be true or false");
    return v;
  }

  str(key: string): string | null {
    const v = this.raw(key);
    if (v === undefined || v === null) return null;
    if (typeof v !== "string") this.fail(key, "must be a string");
    return v;
  }

  /** A token id (non-negative integer), or null. */
  tokenId(key: string, def: number | null): number | null {
    const v = this.raw(key);
    if (v === undefined) return def;
    if (v === null) return null;
    if (!Number.isSafeInteger(v) || (v as number) < 0) this.fail(key, "must be a token id (non-negative integer)");
    return v as number;
  }

  /** A token id, a non-empty list of them, or null. */
  tokenIds(key: string, def: number | null): number | number[] | null {
    const v = this.raw(key);
    if (!Array.isArray(v)) return this.tokenId(key, def);
    if (!v.length || !v.every((x) => Number.isSafeInteger(x) && x >= 0)) this.fail(key, "must be a token id or a list of token ids");
    return [...(v as number[])];
  }

  /** The keys not read. */
  rest(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.obj).filter(([k]) => !this.used.has(k)));
  }
}
