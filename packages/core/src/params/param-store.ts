/**
 * Parameters in flat float32 buffers with named views.
 *
 * Tensors are packed into chunks of at most `chunkBytes` (default 1 GiB, below V8's typed-array limits);
 * each named tensor is a Float32Array view into one chunk. Graphs read parameters as inputs, fed
 * zero-copy from these views, and optimizers update them in place, so no step pays a weight-sized
 * graph output.
 */
import type { TensorData } from "../runtime/runtime.js";

export interface ParamSpec {
  name: string;
  shape: readonly number[];
}

const DEFAULT_CHUNK_BYTES = 1 << 30;

/** Read/write access to named float32 tensors (a ParamStore, or a view over several). */
export interface ParamSource {
  readonly names: string[];
  has(name: string): boolean;
  get(name: string): Float32Array;
  shape(name: string): readonly number[];
}

/**
 * A named subset of tensors drawn from several sources (e.g. LoRA weights plus the base tensors of
 * modules_to_save). Views are live: writes go to the underlying stores.
 * @throws Error when a name is missing from every source.
 */
export class ParamView implements ParamSource {
  private readonly owner = new Map<string, ParamSource>();
  constructor(entries: readonly { source: ParamSource; names: readonly string[] }[]) {
    for (const { source, names } of entries) {
      for (const n of names) {
        if (!source.has(n)) throw new Error(`ParamView: '${n}' is not in its source`);
        this.owner.set(n, source);
      }
    }
  }
  get names(): string[] {
    return [...this.owner.keys()];
  }
  has(name: string): boolean {
    return this.owner.has(name);
  }
  get(name: string): Float32Array {
    const s = this.owner.get(name);
    if (!s) throw new Error(`ParamView: unknown parameter '${name}'`);
    return s.get(name);
  }
  shape(name: string): readonly number[] {
    const s = this.owner.get(name);
    if (!s) throw new Error(`ParamView: unknown parameter '${name}'`);
    return s.shape(name);
  }
  /** Total number of values. */
  get numel(): number {
    let n = 0;
    for (const name of this.owner.keys()) n += this.get(name).length;
    return n;
  }
}

export class ParamStore implements ParamSource {
  private readonly views = new Map<string, Float32Array>();
  private readonly shapes = new Map<string, readonly number[]>();
  /** The backing chunks (each tensor lies wholly inside one). */
  readonly chunks: Float32Array[] = [];

  /**
   * Allocates zeroed storage for `specs`.
   * @throws Error on duplicate names or a tensor larger than `chunkBytes`.
   */
  constructor(specs: readonly ParamSpec[], chunkBytes = DEFAULT_CHUNK_BYTES) {
    const maxElems = Math.floor(chunkBytes / 4);
    let pending: ParamSpec[] = [];
    let pendingSize = 0;
    const flush = () => {
      if (!pending.length) return;
      const chunk = new Float32Array(pendingSize);
      let off = 0;
      for (const s of pending) {
        const n = s.shape.reduce((a, b) => a * b, 1);
        this.views.set(s.name, chunk.subarray(off, off + n));
        off += n;
      }
      this.chunks.push(chunk);
      pending = [];
      pendingSize = 0;
    };
    for (const s of specs) {
      if (this.shapes.has(s.name)) throw new Error(`ParamStore: duplicate parameter '${s.name}'`);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (n > maxElems) throw new Error(`ParamStore: '${s.name}' (${n} elements) exceeds a chunk of ${chunkBytes} bytes`);
      if (pendingSize + n > maxElems) flush();
      pending.push(s);
      pendingSize += n;
      this.shapes.set(s.name, [...s.shape]);
    }
    flush();
  }

  /** Parameter names in insertion order. */
  get names(): string[] {
    return [...this.shapes.keys()];
  }

  has(name: string): boolean {
    return this.views.has(name);
  }

  /** The live view of a tensor (writes go to the store). @throws Error for unknown names. */
  get(name: string): Float32Array {
    const v = this.views.get(name);
    if (!v) throw new Error(`ParamStore: unknown parameter '${name}'`);
    return v;
  }

  shape(name: string): readonly number[] {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`ParamStore: unknown parameter '${name}'`);
    return s;
  }

  /** Copies `data` into the named tensor. @throws Error on size mismatch. */
  set(name: string, data: ArrayLike<number>): void {
    const v = this.get(name);
    if (data.length !== v.length) throw new Error(`ParamStore: '${name}' has ${v.length} elements, got ${data.length}`);
    v.set(data);
  }

  /** Total number of parameters. */
  get numel(): number {
    let n = 0;
    for (const v of this.views.values()) n += v.length;
    return n;
  }

  /** Zero-copy feeds for every parameter (name -> view). */
  feeds(names: Iterable<string> = this.views.keys()): Record<string, TensorData> {
    const out: Record<string, TensorData> = {};
    for (const n of names) out[n] = { data: this.get(n), dims: this.shape(n) };
    return out;
  }

  /** A deep copy (same names and shapes, copied data). */
  clone(): ParamStore {
    const c = new ParamStore(this.names.map((name) => ({ name, shape: this.shape(name) })));
    for (const n of this.names) c.get(n).set(this.get(n));
    return c;
  }
}
