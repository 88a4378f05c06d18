/**
 * Reverse-mode automatic differentiation over the graph IR.
 *
 * `grad(y, wrt)` appends to y's graph the nodes computing dy/dw for each w in `wrt` and returns them.
 * One reverse walk over the nodes between `wrt` and `y`:
 *  - only nodes whose inputs depend on some w (through float values, not through Detach or
 *    integer/bool values) are differentiated, so frozen weights cost no gradient work;
 *  - cotangents of a value used several times are summed (fan-out accumulation);
 *  - each VJP may return a cotangent in a broadcast shape; it is reduced to the input's shape here,
 *    in one place (unbroadcasting).
 */
import { isFloat } from "../ir/dtype.js";
import type { Value } from "../ir/graph.js";
import { formatShape, shapesEqual } from "../ir/shape.js";
import { add } from "../ops/binary.js";
import { sumTo } from "../ops/reduce.js";
import { fullLikeOp, zerosLike } from "../ops/shape-ops.js";
import { scatterElementsAdd, scatterElementsAddOp, scatterNDAdd, scatterNDAddOp } from "../ops/index-ops.js";

/**
 * Gradients of `y` with respect to each of `wrt`.
 *
 * @param y a float value; must be a scalar (rank 0 or all dims 1) unless `seed` is given.
 * @param wrt float values of the same graph (inputs, constants or intermediates).
 * @param seed cotangent of y (same shape and dtype); default 1.
 * @returns one value per `wrt`, of its shape and dtype; zeros where y does not depend on it.
 * @throws Error if y is not float, is not scalar without a seed, or a value belongs to another graph.
 */
export function grad(y: Value, wrt: readonly Value[], seed?: Value): Value[] {
  const g = y.graph;
  if (!isFloat(y.dtype)) throw new Error(`grad: y must be a float value, got ${y.dtype}`);
  for (const w of wrt) {
    if (w.graph !== g) throw new Error(`grad: ${w} belongs to another graph`);
    if (!isFloat(w.dtype)) throw new Error(`grad: cannot differentiate with respect to ${w.dtype} value ${w}`);
  }
  if (!seed && !y.shape.every((d) => d === 1)) {
    throw new Error(`grad: y has shape ${formatShape(y.shape)}; pass a seed cotangent for non-scalar outputs`);
  }

  const depends = new Set<number>(wrt.map((w) => w.id));
  const lastIndex = y.node ? g.nodes.indexOf(y.node) : -1;
  for (let i = 0; i <= lastIndex; i++) {
    const node = g.nodes[i]!;
    if (!node.op.vjp) continue;
    if (node.inputs.some((x) => depends.has(x.id) && isFloat(x.dtype))) {
      for (const o of node.outputs) if (isFloat(o.dtype)) depends.add(o.id);
    }
  }

  const cot = new Map<number, Value>();
  const accumulate = (x: Value, c: Value) => {
    const prev = cot.get(x.id);
    cot.set(x.id, prev ? sumCotangents(prev, c) : c);
  };
  if (depends.has(y.id)) cot.set(y.id, seed ?? g.scalar(1, y.dtype));

  for (let i = lastIndex; i >= 0; i--) {
    const node = g.nodes[i]!;
    if (!node.op.vjp) continue;
    const outCots = node.outputs.map((o) => cot.get(o.id) ?? null);
    if (outCots.every((c) => c === null)) continue;
    const needs = node.inputs.map((x) => depends.has(x.id) && isFloat(x.dtype));
    if (!needs.some(Boolean)) continue;
    const inCots = node.op.vjp(node, outCots, needs);
    node.inputs.forEach((x, k) => {
      const c = inCots[k];
      if (!needs[k] || !c) return;
      accumulate(x, unbroadcast(c, x, node.op.name));
    });
  }

  return wrt.map((w) => {
    const c = cot.get(w.id);
    if (!c) return zerosLike(w);
    return shapesEqual(c.shape, w.shape) ? c : unbroadcast(c, w, "grad");
  });
}

/**
 * prev + c. A scatter-add into zeros (the VJP of a gather, e.g. a tied embedding) is rebuilt as a
 * scatter-add into the other cotangent, saving a weight-sized zero fill and addition; the unused
 * first form is dead code that export prunes.
 */
function sumCotangents(prev: Value, c: Value): Value {
  for (const [scatter, other] of [[c, prev], [prev, c]] as const) {
    const n = scatter.node;
    if (n && (n.op === scatterNDAddOp || n.op === scatterElementsAddOp) && isZeros(n.inputs[0]!) && shapesEqual(other.shape, scatter.shape)) {
      return n.op === scatterNDAddOp ? scatterNDAdd(other, n.inputs[1]!, n.inputs[2]!) : scatterElementsAdd(other, n.inputs[1]!, n.inputs[2]!, n.attrs.axis as number);
    }
  }
  return add(prev, c);
}

function isZeros(v: Value): boolean {
  return v.node?.op === fullLikeOp && v.node.attrs.value === 0;
}

/** Reduces a cotangent computed in a broadcast shape back to `x`'s shape. */
function unbroadcast(c: Value, x: Value, op: string): Value {
  if (c.dtype !== x.dtype) throw new Error(`grad: ${op} produced a ${c.dtype} cotangent for ${x.dtype} input ${x}`);
  if (shapesEqual(c.shape, x.shape)) return c;
  if (c.rank < x.rank) throw new Error(`grad: ${op} cotangent ${formatShape(c.shape)} has lower rank than input ${formatShape(x.shape)}`);
  return sumTo(c, x.shape, x);
}
