/**
 * Elementwise unary ops. Each VJP is stated next to its op; `y` is the op's output. Each op's forward
 * oracle is its scalar function (ONNX operator of the same name), applied elementwise.
 */
import type { GradCheckCase, Node, OpDef, Value } from "../ir/graph.js";
import { expectArity, expectFloat } from "./util.js";
import { div, mul, sub } from "./arith.js";

type Vjp = (x: Value, y: Value, g: Value) => Value;

interface UnaryOptions {
  checks?: GradCheckCase[];
  /** Accept integer inputs too (Neg, Sign, Identity). */
  anyDtype?: boolean;
  forwardChecks?: GradCheckCase[];
}

function unaryOp(name: string, onnx: string, f: (x: number) => number, vjp: Vjp | null, opts: UnaryOptions = {}): OpDef {
  return {
    name,
    infer(inputs) {
      expectArity(inputs, 1);
      if (!opts.anyDtype) expectFloat(inputs[0]!);
      return [{ dtype: inputs[0]!.dtype, shape: [...inputs[0]!.shape] }];
    },
    lower(node: Node, ctx) {
      ctx.emit(onnx, [ctx.name(node.inputs[0]!)], [ctx.name(node.outputs[0]!)]);
    },
    reference: ([x]) => [{ data: x!.data.map((v) => f(v)), shape: [...x!.shape] }],
    ...(vjp
      ? {
          vjp: (node: Node, grads: (Value | null)[]) => [vjp(node.inputs[0]!, node.outputs[0]!, grads[0]!)],
          checks: opts.checks ?? [{ name: "basic", inputs: [{ shape: [2, 3] }] }],
        }
      : {}),
    ...(opts.forwardChecks ? { forwardChecks: opts.forwardChecks } : {}),
  };
}

const POS: GradCheckCase[] = [{ name: "positive", inputs: [{ shape: [2, 3], gen: "positive" }] }];
/** Forward-oracle cases of ops that also take integers; zeros included. */
const ANY: GradCheckCase[] = [
  { name: "with-zeros", inputs: [{ shape: [2, 3], gen: { values: [-1.5, 0, 2, 0, -0.25, 3] } }] },
  { name: "int64", inputs: [{ shape: [2, 3], dtype: "int64", gen: { int: [-3, 4] } }] },
];

/** -x; d/dx = -1. */
export const negOp = unaryOp("Neg", "Neg", (x) => -x, (_x, _y, g) => mul(g, -1), { anyDtype: true, forwardChecks: ANY });
/** e^x; d/dx = y. */
export const expOp = unaryOp("Exp", "Exp", Math.exp, (_x, y, g) => mul(g, y));
/** ln x; d/dx = 1/x. */
export const logOp = unaryOp("Log", "Log", Math.log, (x, _y, g) => div(g, x), { checks: POS });
/** sqrt x; d/dx = 1/(2y). */
export const sqrtOp = unaryOp("Sqrt", "Sqrt", Math.sqrt, (_x, y, g) => div(mul(g, 0.5), y), { checks: POS });
/** 1/x; d/dx = -y^2. */
export const reciprocalOp = unaryOp("Reciprocal", "Reciprocal", (x) => 1 / x, (_x, y, g) => mul(g, mul(mul(y, y), -1)), { checks: POS });
/** 1/(1+e^-x); d/dx = y(1-y). */
export const sigmoidOp = unaryOp("Sigmoid", "Sigmoid", (x) => 1 / (1 + Math.exp(-x)), (_x, y, g) => mul(g, mul(y, sub(1, y))));
/** tanh x; d/dx = 1 - y^2. */
export const tanhOp = unaryOp("Tanh", "Tanh", Math.tanh, (_x, y, g) => mul(g, sub(1, mul(y, y))));
/** |x|; d/dx = sign(x) (0 at 0, as torch). */
export const absOp = unaryOp("Abs", "Abs", Math.abs, (x, _y, g) => mul(g, sign(x)), {
  checks: [{ name: "away-from-0", inputs: [{ shape: [2, 3], gen: "distinct" }] }],
});
/** ln(1+e^x); d/dx = sigmoid(x). */
export const softplusOp = unaryOp("Softplus", "Softplus", (x) => Math.log1p(Math.exp(x)), (x, _y, g) => mul(g, sigmoid(x)));
/** sign(x) in {-1, 0, 1}; no gradient (its derivative is 0 almost everywhere). */
export const signOp = unaryOp("Sign", "Sign", Math.sign, null, { anyDtype: true, forwardChecks: ANY });
/** Stop-gradient: the identity (ONNX Identity) whose VJP is zero (so reference/old log-probs can share a graph). */
export const detachOp = unaryOp("Detach", "Identity", (x) => x, null, { anyDtype: true, forwardChecks: ANY });

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
