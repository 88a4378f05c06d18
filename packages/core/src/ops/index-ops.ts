/**
 * Indexing: Gather (embedding lookup), GatherElements, GatherND and their scatter-add duals
 * ScatterElementsAdd and ScatterNDAdd (ONNX ScatterElements/ScatterND with reduction="add").
 * Indices are int64 (or int32) and carry no gradient. Oracles follow the ONNX operators (batch_dims 0);
 * a negative index counts from the back of its axis.
 */
import type { OpDef, Value } from "../ir/graph.js";
import { type Dim, formatShape, normAxis } from "../ir/shape.js";
import { check, expectArity } from "./util.js";
import { unsqueeze, zerosLike } from "./shape-ops.js";
import { at, axisOf, build, numel, ravel, unravel } from "./reference.js";

/** A (possibly negative) index into an axis of size `d`. */
const wrap = (i: number, d: number): number => (i < 0 ? i + d : i);

function expectIndices(x: Value): void {
  check(x.dtype === "int64" || x.dtype === "int32", `indices must be int64 or int32, got ${x.dtype}`);
}

/**
 * Gather along `axis`: out shape = data[:axis] + indices.shape + data[axis+1:].
 * VJP (axis 0 only, the embedding case): scatter-add of the cotangent rows into zeros of data's shape,
 * so repeated ids accumulate.
 */
export const gatherOp: OpDef = {
  name: "Gather",
  infer(inputs, attrs) {
    expectArity(inputs, 2);
    const [data, idx] = inputs as [Value, Value];
    expectIndices(idx);
    const axis = normAxis((attrs.axis as number) ?? 0, data.rank, "Gather");
    const shape: Dim[] = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
    return [{ dtype: data.dtype, shape }];
  },
  lower(node, ctx) {
    const axis = normAxis((node.attrs.axis as number) ?? 0, node.inputs[0]!.rank, "Gather");
    ctx.emit("Gather", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)], { axis });
  },
  vjp(node, grads) {
    const [data, idx] = node.inputs as [Value, Value];
    const axis = normAxis((node.attrs.axis as number) ?? 0, data.rank, "Gather");
    check(axis === 0, `Gather gradient is implemented for axis 0 (embedding lookup), got axis ${axis}`);
    return [scatterNDAdd(zerosLike(data), unsqueeze(idx, [idx.rank]), grads[0]!), null];
  },
  checks: [
    { name: "embedding-repeats", inputs: [{ shape: [5, 3] }, { shape: [2, 3], dtype: "int64", gen: { values: [1, 4, 1, 0, 1, 2] } }] },
  ],
  /** out[a..., i..., b...] = data[a..., idx[i...], b...] with `a` the dims before `axis`. */
  reference: ([data, idx], attrs) => {
    const axis = axisOf((attrs.axis as number) ?? 0, data!.shape.length);
    const q = idx!.shape.length;
    const shape = [...data!.shape.slice(0, axis), ...idx!.shape, ...data!.shape.slice(axis + 1)];
    return [build(shape, (o) => {
      const j = wrap(at(idx!, o.slice(axis, axis + q)), data!.shape[axis]!);
      return at(data!, [...o.slice(0, axis), j, ...o.slice(axis + q)]);
    })];
  },
  forwardChecks: [
    { name: "axis1-negative", inputs: [{ shape: [2, 4, 3] }, { shape: [3], dtype: "int64", gen: { values: [3, -1, 0] } }], attrs: { axis: 1 } },
  ],
};

/** Gathers slices of `data` along `axis` at `indices` (numpy take). */
export const gather = (data: Value, indices: Value, axis = 0): Value => data.graph.apply(gatherOp, [data, indices], { axis })[0]!;

/** out[i][j] = data[idx[i][j]][j] (axis 0) etc.; VJP scatters the cotangent back with add. */
export const gatherElementsOp: OpDef = {
  name: "GatherElements",
  infer(inputs, attrs) {
    expectArity(inputs, 2);
    const [data, idx] = inputs as [Value, Value];
    expectIndices(idx);
    check(data.rank === idx.rank, `data ${formatShape(data.shape)} and indices ${formatShape(idx.shape)} ranks differ`);
    const axis = normAxis(attrs.axis as number, data.rank, "GatherElements");
    idx.shape.forEach((d, i) => {
      if (i !== axis) check(d === data.shape[i], `indices ${formatShape(idx.shape)} vs data ${formatShape(data.shape)} off axis ${axis}`);
    });
    return [{ dtype: data.dtype, shape: [...idx.shape] }];
  },
  lower(node, ctx) {
    const axis = normAxis(node.attrs.axis as number, node.inputs[0]!.rank, "GatherElements");
    ctx.emit("GatherElements", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)], { axis });
  },
  vjp(node, grads) {
    const [data, idx] = node.inputs as [Value, Value];
    return [scatterElementsAdd(zerosLike(data), idx, grads[0]!, node.attrs.axis as number), null];
  },
  checks: [
    { name: "last-axis", inputs: [{ shape: [3, 5] }, { shape: [3, 2], dtype: "int64", gen: { values: [0, 4, 2, 2, 1, 3] } }], attrs: { axis: -1 } },
  ],
  /** out[p] = data[p with p[axis] replaced by idx[p]]. */
  reference: ([data, idx], attrs) => {
    const axis = axisOf(attrs.axis as number, data!.shape.length);
    return [build(idx!.shape, (p) => at(data!, p.map((v, k) => (k === axis ? wrap(at(idx!, p), data!.shape[axis]!) : v))))];
  },
  forwardChecks: [
    { name: "axis0", inputs: [{ shape: [3, 2] }, { shape: [2, 2], dtype: "int64", gen: { values: [2, 0, -3, 1] } }], attrs: { axis: 0 } },
  ],
};

/** torch.gather: picks along `axis` per element. */
export const gatherElements = (data: Value, indices: Value, axis: number): Value =>
  data.graph.apply(gatherElementsOp, [data, indices], { axis })[0]!;

/** data with updates added at indices along `axis`. VJP: data <- g; updates <- gatherElements(g). */
export const scatterElementsAddOp: OpDef = {
  name: "ScatterElementsAdd",
  infer(inputs, attrs) {
    expectArity(inputs, 3);
    const [data, idx, upd] = inputs as [Value, Value, Value];
    expectIndices(idx);
    check(upd.dtype === data.dtype, `updates dtype ${upd.dtype} differs from data ${data.dtype}`);
    check(idx.rank === data.rank && upd.shape.every((d, i) => d === idx.shape[i]) && upd.rank === idx.rank, `indices ${formatShape(idx.shape)} / updates ${formatShape(upd.shape)} mismatch`);
    normAxis(attrs.axis as number, data.rank, "ScatterElementsAdd");
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
  lower(node, ctx) {
    const axis = normAxis(node.attrs.axis as number, node.inputs[0]!.rank, "ScatterElementsAdd");
    ctx.emit("ScatterElements", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)], { axis, reduction: "add" });
  },
  vjp(node, grads, needs) {
    const [, idx] = node.inputs as [Value, Value, Value];
    const g = grads[0]!;
    return [g, null, needs[2] ? gatherElements(g, idx, node.attrs.axis as number) : null];
  },
  checks: [
    {
      name: "repeats",
      inputs: [{ shape: [3, 4] }, { shape: [3, 2], dtype: "int64", gen: { values: [1, 1, 0, 3, 2, 2] } }, { shape: [3, 2] }],
      attrs: { axis: 1 },
    },
  ],
  /** A copy of data; then for every position p of idx, out[p with p[axis] = idx[p]] += updates[p]. */
  reference: ([data, idx, upd], attrs) => {
    const axis = axisOf(attrs.axis as number, data!.shape.length);
    const out = data!.data.slice();
    for (let i = 0; i < idx!.data.length; i++) {
      const p = unravel(i, idx!.shape);
      p[axis] = wrap(idx!.data[i]!, data!.shape[axis]!);
      out[ravel(p, data!.shape)] += upd!.data[i]!;
    }
    return [{ data: out, shape: [...data!.shape] }];
  },
  forwardChecks: [
    {
      name: "axis0",
      inputs: [{ shape: [3, 2] }, { shape: [2, 2], dtype: "int64", gen: { values: [2, 2, 0, 2] } }, { shape: [2, 2] }],
      attrs: { axis: 0 },
    },
  ],
};

export const scatterElementsAdd = (data: Value, indices: Value, updates: Value, axis: number): Value =>
  data.graph.apply(scatterElementsAddOp, [data, indices, updates], { axis })[0]!;

/** GatherND (batch_dims 0): out shape = indices.shape[:-1] + data.shape[k:], k = indices.shape[-1]. */
export const gatherNDOp: OpDef = {
  name: "GatherND",
  infer(inputs) {
    expectArity(inputs, 2);
    const [data, idx] = inputs as [Value, Value];
    expectIndices(idx);
    const k = idx.shape[idx.rank - 1];
    check(typeof k === "number" && k <= data.rank, `last indices dim ${k} must be static and <= data rank ${data.rank}`);
    return [{ dtype: data.dtype, shape: [...idx.shape.slice(0, -1), ...data.shape.slice(k)] }];
  },
  lower(node, ctx) {
    ctx.emit("GatherND", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)]);
  },
  vjp(node, grads) {
    const [data, idx] = node.inputs as [Value, Value];
    return [scatterNDAdd(zerosLike(data), idx, grads[0]!), null];
  },
  checks: [{ name: "rows", inputs: [{ shape: [4, 3] }, { shape: [3, 1], dtype: "int64", gen: { values: [2, 0, 2] } }] }],
  /** out[i..., b...] = data[idx[i..., 0], ..., idx[i..., k-1], b...]. */
  reference: ([data, idx]) => {
    const k = idx!.shape.at(-1)!;
    const lead = idx!.shape.slice(0, -1);
    return [build([...lead, ...data!.shape.slice(k)], (o) => {
      const i = o.slice(0, lead.length);
      const coords = Array.from({ length: k }, (_, c) => wrap(at(idx!, [...i, c]), data!.shape[c]!));
      return at(data!, [...coords, ...o.slice(lead.length)]);
    })];
  },
  forwardChecks: [
    { name: "elements", inputs: [{ shape: [3, 4] }, { shape: [2, 2, 2], dtype: "int64", gen: { values: [0, 3, 2, 1, 1, 1, 2, -1] } }] },
  ],
};

export const gatherND = (data: Value, indices: Value): Value => data.graph.apply(gatherNDOp, [data, indices])[0]!;

/** ScatterND with reduction add. VJP: data <- g; updates <- gatherND(g, indices). */
export const scatterNDAddOp: OpDef = {
  name: "ScatterNDAdd",
  infer(inputs) {
    expectArity(inputs, 3);
    const [data, idx, upd] = inputs as [Value, Value, Value];
    expectIndices(idx);
    check(upd.dtype === data.dtype, `updates dtype ${upd.dtype} differs from data ${data.dtype}`);
    const k = idx.shape[idx.rank - 1];
    check(typeof k === "number" && k <= data.rank, `last indices dim must be static and <= data rank`);
    const want = [...idx.shape.slice(0, -1), ...data.shape.slice(k)];
    check(want.length === upd.rank && want.every((d, i) => d === upd.shape[i]), `updates ${formatShape(upd.shape)} should be ${formatShape(want)}`);
    return [{ dtype: data.dtype, shape: [...data.shape] }];
  },
  lower(node, ctx) {
    ctx.emit("ScatterND", node.inputs.map((x) => ctx.name(x)), [ctx.name(node.outputs[0]!)], { reduction: "add" });
  },
  vjp(node, grads, needs) {
    const [, idx] = node.inputs as [Value, Value, Value];
    const g = grads[0]!;
    return [g, null, needs[2] ? gatherND(g, idx) : null];
  },
  checks: [
    { name: "repeats", inputs: [{ shape: [4, 3] }, { shape: [3, 1], dtype: "int64", gen: { values: [1, 3, 1] } }, { shape: [3, 3] }] },
  ],
  /** A copy of data; then data[idx[i..., :], b...] += updates[i..., b...] for every i and b. */
  reference: ([data, idx, upd]) => {
    const k = idx!.shape.at(-1)!;
    const tail = numel(data!.shape.slice(k));
    const out = data!.data.slice();
    for (let u = 0; u < upd!.data.length; u++) {
      const i = Math.floor(u / tail);
      const coords = Array.from({ length: k }, (_, c) => wrap(idx!.data[i * k + c]!, data!.shape[c]!));
      out[ravel(coords, data!.shape.slice(0, k)) * tail + (u % tail)] += upd!.data[u]!;
    }
    return [{ data: out, shape: [...data!.shape] }];
  },
  forwardChecks: [
    {
      name: "elements",
      inputs: [{ shape: [2, 3] }, { shape: [4, 2], dtype: "int64", gen: { values: [0, 1, 1, 2, 0, 1, -1, 0] } }, { shape: [4] }],
    },
  ],
};

export const scatterNDAdd = (data: Value, indices: Value, updates: Value): Value =>
  data.graph.apply(scatterNDAddOp, [data, indices, updates])[0]!;
