/**
 * Softmax and LogSoftmax along one axis (ONNX opset >= 13 semantics; numerically stable kernels).
 * Oracles: softmax(x)_i = exp(x_i - logsumexp(x)), log-softmax(x)_i = x_i - logsumexp(x), along `axis`.
 * VJPs: softmax: y * (g - sum(g*y)); log-softmax: g - exp(y) * sum(g).
 */
import type { OpDef, Value } from "../ir/graph.js";
import { normAxis } from "../ir/shape.js";
import { expectArity, expectFloat } from "./util.js";
import { mul, sub } from "./arith.js";
import { at, build, lane, logSumExp } from "./reference.js";
import { exp } from "./unary.js";
import { reduceSum } from "./reduce.js";

function softmaxLike(name: string, f: (x: number, lse: number) => number, vjp: (y: Value, g: Value, axis: number) => Value): OpDef {
  return {
    name,
    infer(inputs, attrs) {
      expectArity(inputs, 1);
      expectFloat(inputs[0]!);
      normAxis((attrs.axis as number) ?? -1, inputs[0]!.rank, name);
      return [{ dtype: inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
    },
    lower(node, ctx) {
      const axis = normAxis((node.attrs.axis as number) ?? -1, node.inputs[0]!.rank, name);
      ctx.emit(name, [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)], { axis });
    },
    vjp(node, grads) {
      const axis = normAxis((node.attrs.axis as number) ?? -1, node.inputs[0]!.rank, name);
      return [vjp(node.outputs[0]!, grads[0]!, axis)];
    },
    checks: [
      { name: "last", inputs: [{ shape: [2, 5] }], attrs: { axis: -1 } },
      { name: "mid", inputs: [{ shape: [2, 3, 4] }], attrs: { axis: 1 } },
    ],
    reference: ([x], attrs) => {
      const axis = normAxis((attrs.axis as number) ?? -1, x!.shape.length, name);
      return [build(x!.shape, (idx) => f(at(x!, idx), logSumExp(lane(x!, idx, axis))))];
    },
    forwardChecks: [
      { name: "first", inputs: [{ shape: [3, 2, 2] }], attrs: { axis: 0 } },
      { name: "default-axis", inputs: [{ shape: [2, 3, 4] }] },
    ],
  };
}

export const softmaxOp = softmaxLike("Softmax", (x, lse) => Math.exp(x - lse), (y, g, axis) => mul(y, sub(g, reduceSum(mul(g, y), [axis], true))));
export const logSoftmaxOp = softmaxLike("LogSoftmax", (x, lse) => x - lse, (y, g, axis) => sub(g, mul(exp(y), reduceSum(g, [axis], true))));

/** softmax(x) along `axis`. */
export const softmax = (x: Value, axis = -1): Value => x.graph.apply(softmaxOp, [x], { axis })[0]!;
/** log(softmax(x)) along `axis`, computed stably. */
export const logSoftmax = (x: Value, axis = -1): Value => x.graph.apply(logSoftmaxOp, [x], { axis })[0]!;
