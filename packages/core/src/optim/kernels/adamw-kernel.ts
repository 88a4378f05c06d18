/**
 * WebAssembly SIMD backend of AdamW (see adamw.wat). The moments m and v live in WebAssembly memories
 * ("arenas", up to 3.5 GiB each); parameters and gradients are staged through the arena in tiles of
 * 16 Ki values (TypedArray.set = memcpy), updated 4 lanes at a time, and copied back. Per value this
 * moves 12 bytes instead of the JS loop's scalar float64 math, about 4x faster on x86-64.
 */
import { ADAMW_WASM_BASE64 } from "./adamw-wasm.js";

const PAGE = 65536;
const TILE = 16384;
const STAGE_BYTES = 2 * TILE * 4;
const ARENA_LIMIT = 3.5 * 2 ** 30;

/** The slice of the WebAssembly JS API used here (the project's TS lib has no WebAssembly types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type KernelFn = (p: number, g: number, m: number, v: number, n: number, b1: number, b2: number, c1: number, c2: number, decay: number, step: number, inv: number, eps: number) => void;

interface Arena {
  memory: WasmMemory;
  adamw: KernelFn;
  /** Next free byte. */
  top: number;
}

/** Where one tensor's moments live: byte offsets of m and v (each `padded` float32 values). */
export interface MomentSlot {
  arena: Arena;
  m: number;
  v: number;
  n: number;
  padded: number;
}

export interface AdamWHyper {
  b1: number;
  b2: number;
  decay: number;
  stepSize: number;
  invBc2Sqrt: number;
  eps: number;
}

let cachedModule: object | null | undefined;

function compiledModule(): object | null {
  if (cachedModule === undefined) {
    try {
      cachedModule = new WA.Module(Buffer.from(ADAMW_WASM_BASE64, "base64"));
    } catch {
      cachedModule = null; // no WebAssembly SIMD: callers fall back to the JS loop
    }
  }
  return cachedModule ?? null;
}

export class AdamWKernel {
  private readonly arenas: Arena[] = [];

  private constructor(private readonly module: object) {}

  /** The kernel, or null where WebAssembly SIMD is unavailable. */
  static tryCreate(): AdamWKernel | null {
    const m = compiledModule();
    return m ? new AdamWKernel(m) : null;
  }

  private newArena(): Arena {
    const memory = new WA.Memory({ initial: Math.ceil(STAGE_BYTES / PAGE), maximum: 65536 });
    const inst = new WA.Instance(this.module, { env: { memory } });
    const arena = { memory, adamw: inst.exports.adamw as KernelFn, top: STAGE_BYTES };
    this.arenas.push(arena);
    return arena;
  }

  /** Zeroed moments for a tensor of `n` values. @throws RangeError for a tensor over 1.7 GiB. */
  allocate(n: number): MomentSlot {
    const padded = Math.ceil(n / 4) * 4;
    const bytes = 2 * padded * 4;
    if (bytes + STAGE_BYTES > ARENA_LIMIT) throw new RangeError(`AdamW kernel: tensor of ${n} values is too large for one arena`);
    let arena = this.arenas.at(-1);
    if (!arena || arena.top + bytes > ARENA_LIMIT) arena = this.newArena();
    const m = arena.top;
    const v = m + padded * 4;
    arena.top += bytes;
    const need = Math.ceil(arena.top / PAGE) - arena.memory.buffer.byteLength / PAGE;
    if (need > 0) arena.memory.grow(need);
    return { arena, m, v, n, padded };
  }

  /** Copies of a slot's moments. */
  read(slot: MomentSlot): { m: Float32Array; v: Float32Array } {
    const buf = slot.arena.memory.buffer;
    return { m: new Float32Array(buf, slot.m, slot.n).slice(), v: new Float32Array(buf, slot.v, slot.n).slice() };
  }

  write(slot: MomentSlot, m: Float32Array, v: Float32Array): void {
    const buf = slot.arena.memory.buffer;
    new Float32Array(buf, slot.m, slot.n).set(m);
    new Float32Array(buf, slot.v, slot.n).set(v);
  }

  /** Updates `p` in place from `g` and the slot's moments. */
  step(slot: MomentSlot, p: Float32Array, g: Float32Array, h: AdamWHyper): void {
    const { arena } = slot;
    const buf = arena.memory.buffer;
    const stageP = new Float32Array(buf, 0, TILE);
    const stageG = new Float32Array(buf, TILE * 4, TILE);
    for (let i = 0; i < slot.n; i += TILE) {
      const len = Math.min(TILE, slot.n - i);
      const len4 = Math.ceil(len / 4) * 4;
      stageP.set(p.subarray(i, i + len));
      stageG.set(g.subarray(i, i + len));
      if (len4 > len) {
        stageP.fill(0, len, len4);
        stageG.fill(0, len, len4);
      }
      arena.adamw(0, TILE * 4, slot.m + i * 4, slot.v + i * 4, len4, h.b1, h.b2, 1 - h.b1, 1 - h.b2, h.decay, h.stepSize, h.invBc2Sqrt, h.eps);
      p.set(stageP.subarray(0, len), i);
    }
  }
}
