/** Runtime: session caching, zero-copy feeds, input checks, and the CUDA error without its binaries. */
import { describe, expect, it } from "vitest";
import { Graph } from "../ir/graph.js";
import { add } from "../ops/binary.js";
import { availableProviders, Runtime } from "./runtime.js";

describe("Runtime", () => {
  it("caches one executable per graph and output set", async () => {
    const rt = new Runtime();
    const g = new Graph();
    const x = g.input("x", "float32", ["n"]);
    const y = add(x, 1);
    const a = await rt.compile(g, { y });
    expect(await rt.compile(g, { y })).toBe(a);
    const out = await a.run({ x: { data: Float32Array.of(1, 2), dims: [2] } });
    expect([...(out.y!.data as Float32Array)]).toEqual([2, 3]);
    // Extra feeds are ignored; a missing one or wrong static dims is an error naming the input.
    await expect(a.run({})).rejects.toThrow(/missing input 'x'/);
    const g2 = new Graph();
    const z = g2.input("z", "float32", [3]);
    const e2 = await rt.compile(g2, { w: add(z, 1) });
    await expect(e2.run({ z: { data: new Float32Array(2), dims: [2] } })).rejects.toThrow(/input 'z' has dims \[2\], graph expects \[3\]/);
  });

  it("reads subarray views in place (zero-copy feeds)", async () => {
    const rt = new Runtime();
    const g = new Graph();
    const x = g.input("x", "float32", [2]);
    const exe = await rt.compile(g, { y: add(x, 0) });
    const buf = Float32Array.of(9, 8, 7, 6);
    const out = await exe.run({ x: { data: buf.subarray(2), dims: [2] } });
    expect([...(out.y!.data as Float32Array)]).toEqual([7, 6]);
  });

  it("names the install flag when the CUDA provider is missing", async () => {
    if (availableProviders().includes("cuda")) return; // a CUDA build: nothing to check here
    const rt = new Runtime({ executionProvider: "cuda" });
    const g = new Graph();
    const x = g.input("x", "float32", [1]);
    await expect(rt.compile(g, { y: add(x, 1) })).rejects.toThrow(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });
});
