/**
 * Elementwise unary ops. Each VJP is stated next to its op; `y` is the op's output.
 */
import type { Node, Value } from "../ir/graph.js";
import type { GradCheckCase, OpDef } from "./op-def.js";
import { expectArity, expectFloat } from "./util.js";
import { div, mul, sub } from "./binary.js";

type Vjp = (x: Value, y: Value, g: Value) => Value;

function unaryOp(name: string, onnx: string, vjp: Vjp | null, checks?: GradCheckCase[], floatOnly = true): OpDef {
  return {
    name,
    infer(inputs) {
      expectArity(inputs, 1);
      if (floatOnly) expectFloat(inputs[0]!);
      return [{ dtype: inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
    },
    lower(node: Node, ctx) {
      ctx.emit(onnx, [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)]);
    },
    ...(vjp
      ? {
          vjp: (node: Node, grads: (Value | null)[]) => [vjp(node.inputs[0]!, node.outputs[0]!, grads[0]!)],
          checks: checks ?? [{ name: "basic", inputs: [{ shape: [2, 3] }] }],
        }
      : {}),
  };
}

const POS: GradCheckCase[] = [{ name: "positive", inputs: [{ shape: [2, 3], gen: "positive" }] }];

/** -x; d/dx = -1. */
export const negOp = unaryOp("Neg", "Neg", (_x, _y, g) => mul(g, -1), undefined, false);
/** e^x; d/dx = y. */
export const expOp = unaryOp("Exp", "Exp", (_x, y, g) => mul(g, y));
/** ln x; d/dx = 1/x. */
export const logOp = unaryOp("Log", "Log", (x, _y, g) => div(g, x), POS);
/** sqrt x; d/dx = 1/(2y). */
export const sqrtOp = unaryOp("Sqrt", "Sqrt", (_x, y, g) => div(mul(g, 0.5), y), POS);
/** 1/x; d/dx = -y^2. */
export const reciprocalOp = unaryOp("Reciprocal", "Reciprocal", (_x, y, g) => mul(g, mul(mul(y, y), -1)), POS);
/** 1/(1+e^-x); d/dx = y(1-y). */
export const sigmoidOp = unaryOp("Sigmoid", "Sigmoid", (_x, y, g) => mul(g, mul(y, sub(1, y))));
/** tanh x; d/dx = 1 - y^2. */
export const tanhOp = unaryOp("Tanh", "Tanh", (_x, y, g) => mul(g, sub(1, mul(y, y))));
/** |x|; d/dx = sign(x) (0 at 0, as torch). */
export const absOp = unaryOp("Abs", "Abs", (x, _y, g) => mul(g, sign(x)), [
  { name: "away-from-0", inputs: [{ shape: [2, 3], gen: "distinct" }] },
]);
/** ln(1+e^x); d/dx = sigmoid(x). */
export const softplusOp = unaryOp("Softplus", "Softplus", (x, _y, g) => mul(g, sigmoid(x)));
/** sign(x) in {-1, 0, 1}; no gradient (its derivative is 0 almost everywhere). */
export const signOp = unaryOp("Sign", "Sign", null, undefined, false);

/** Stop-gradient: the identity whose VJP is zero (so reference/old log-probs can share a graph). */
export const detachOp: OpDef = {
  name: "Detach",
  infer(inputs) {
    expectArity(inputs, 1);
    return [{ dtype: inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
  },
  lower(node, ctx) {
    ctx.emit("Identity", [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)]);
  },
};

const u = (op: OpDef) => (x: Value): Value => x.graph.apply(op, [x])[0]!;
export const neg = u(negOp);
export const exp = u(expOp);
export const log = u(logOp);
export const sqrt = u(sqrtOp);
export const reciprocal = u(reciprocalOp);
export const sigmoid = u(sigmoidOp);
export const tanh = u(tanhOp);
export const abs = u(absOp);
export const softplus = u(softplusOp);
export const sign = u(signOp);
/** Stop-gradient (see {@link detachOp}). */
export const detach = u(detachOp);
/** x * sigmoid(x) (SiLU / swish), composed from primitives. */
export const silu = (x: Value): Value => mul(x, sigmoid(x));
/** log(sigmoid(x)) = -softplus(-x), stable for large |x|. */
export const logSigmoid = (x: Value): Value => mul(softplus(mul(x, -1)), -1);
/** Squares elementwise. */
export const square = (x: Value): Value => mul(x, x);
