/** The WebAssembly SIMD AdamW kernel agrees with the JS loop, survives a state round trip, and is generated from adamw.wat. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import wabtInit from "wabt";
import { ParamStore } from "../params/param-store.js";
import { Rng } from "../util/rng.js";
import { AdamW } from "./adamw.js";
import { ADAMW_WASM_BASE64 } from "./kernels/adamw-wasm.js";

function setup(n: number) {
  const rng = new Rng(3);
  const specs = [{ name: "a", shape: [n] }, { name: "b", shape: [7] }];
  const ps = new ParamStore(specs);
  for (const s of specs) ps.get(s.name).forEach((_, i, x) => (x[i] = rng.normal()));
  const grads = () => new Map(specs.map((s) => [s.name, Float32Array.from({ length: s.shape[0]! }, () => rng.normal() * 0.1)]));
  return { ps, grads };
}

describe("AdamW backends", () => {
  it("wasm and js agree over several steps (tile tails included)", () => {
    const n = 16384 * 2 + 13;
    const a = setup(n);
    const b = setup(n);
    const wasm = new AdamW([{ params: ["a", "b"], lr: 1e-2, weightDecay: 0.1 }]);
    const js = new AdamW([{ params: ["a", "b"], lr: 1e-2, weightDecay: 0.1 }], { backend: "js" });
    expect(wasm.backend).toBe("wasm");
    for (let s = 0; s < 5; s++) {
      const g = a.grads();
      b.grads();
      wasm.step(a.ps, g, 0.5 + s / 10);
      js.step(b.ps, g, 0.5 + s / 10);
    }
    for (const name of ["a", "b"]) {
      const x = a.ps.get(name);
      const y = b.ps.get(name);
      for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThan(1e-6);
    }
  });

  it("state round trip continues identically", () => {
    const a = setup(100);
    const opt = new AdamW([{ params: ["a", "b"], lr: 1e-2 }]);
    opt.step(a.ps, a.grads());
    const copy = a.ps.clone();
    const restored = new AdamW([{ params: ["a", "b"], lr: 1e-2 }]);
    restored.loadStateDict(opt.stateDict());
    const g = a.grads();
    opt.step(a.ps, g);
    restored.step(copy, g);
    expect(copy.get("a")).toEqual(a.ps.get("a"));
    expect(restored.stepCount).toBe(2);
  });

  it("the embedded module is adamw.wat compiled", async () => {
    const wabt = await wabtInit();
    const wat = readFileSync(new URL("./kernels/adamw.wat", import.meta.url), "utf8");
    const bytes = wabt.parseWat("adamw.wat", wat, { simd: true }).toBinary({}).buffer;
    expect(Buffer.from(bytes).toString("base64")).toBe(ADAMW_WASM_BASE64);
  });
});
