/**
 * Softmax and LogSoftmax along one axis (ONNX opset >= 13 semantics; numerically stable kernels).
 * VJPs: softmax: y * (g - sum(g*y)); log-softmax: g - exp(y) * sum(g).
 */
import type { Value } from "../ir/graph.js";
import { normAxis } from "../ir/shape.js";
import type { OpDef } from "./op-def.js";
import { expectArity, expectFloat } from "./util.js";
import { mul, sub } from "./binary.js";
import { exp } from "./unary.js";
import { reduceSum } from "./reduce.js";

function softmaxLike(name: string, vjp: (y: Value, g: Value, axis: number) => Value): OpDef {
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
  };
}

export const softmaxOp = softmaxLike("Softmax", (y, g, axis) => mul(y, sub(g, reduceSum(mul(g, y), [axis], true))));
export const logSoftmaxOp = softmaxLike("LogSoftmax", (y, g, axis) => sub(g, mul(exp(y), reduceSum(g, [axis], true))));

/** softmax(x) along `axis`. */
export const softmax = (x: Value, axis = -1): Value => x.graph.apply(softmaxOp, [x], { axis })[0]!;
/** log(softmax(x)) along `axis`, computed stably. */
export const logSoftmax = (x: Value, axis = -1): Value => x.graph.apply(logSoftmaxOp, [x], { axis })[0]!;
