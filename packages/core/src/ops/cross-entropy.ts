/**
 * Fused log-probability of target tokens: for logits [..., V] and targets [...] (int64; -100 =
 * ignored) returns
 *   out0 = log softmax(logits)[..., target]  (0 where ignored), shape [...]
 *   out1 = log softmax(logits), shape [..., V] (kept for the backward pass)
 * VJP (d log p_t / d logits = onehot(t) - softmax): dlogits = g * (onehot(t) - exp(out1)), masked,
 * built as one scatter-add of g into -g * exp(out1): three passes over [..., V] instead of the
 * composite's log-softmax + gather + scatter chain.
 * Oracle: exactly the two formulas above (log softmax as x - logsumexp(x) over the last axis).
 */
import type { OpDef, Value } from "../ir/graph.js";
import { formatShape } from "../ir/shape.js";
import { check, expectArity, expectFloat } from "./util.js";
import { add, mul, sub } from "./arith.js";
import { equal } from "./compare.js";
import { scatterElementsAdd } from "./index-ops.js";
import { reduceSum } from "./reduce.js";
import { where } from "./select.js";
import { unsqueeze } from "./shape-ops.js";
import { exp } from "./unary.js";
import { at, build, lane, logSumExp } from "./reference.js";

/** Label/target value that is not scored (transformers' ignore_index). */
export const IGNORE_INDEX = -100;

export const targetLogpOp: OpDef = {
  name: "TargetLogp",
  infer(inputs) {
    expectArity(inputs, 2);
    const [logits, target] = inputs as [Value, Value];
    expectFloat(logits);
    check(target.dtype === "int64", `targets must be int64, got ${target.dtype}`);
    check(target.rank === logits.rank - 1 && target.shape.every((d, i) => d === logits.shape[i]), `targets ${formatShape(target.shape)} must match logits ${formatShape(logits.shape)} without the last axis`);
    return [
      { dtype: logits.dtype, shape: [...target.shape] },
      { dtype: logits.dtype, shape: [...logits.shape] },
    ];
  },
  lower(node, ctx) {
    const [logits, target] = node.inputs as [Value, Value];
    const [out, logp] = node.outputs as [Value, Value];
    const r = logits.rank;
    const ignored = ctx.fresh("ignored");
    const safe = ctx.fresh("safe");
    const idx = ctx.fresh("idx");
    const picked = ctx.fresh("picked");
    const squeezed = ctx.fresh("squeezed");
    ctx.emit("LogSoftmax", [ctx.name(logits)], [ctx.name(logp)], { axis: r - 1 });
    ctx.emit("Equal", [ctx.name(target), ctx.scalar(IGNORE_INDEX, "int64")], [ignored]);
    ctx.emit("Where", [ignored, ctx.scalar(0, "int64"), ctx.name(target)], [safe]);
    ctx.emit("Unsqueeze", [safe, ctx.int64s([r - 1])], [idx]);
    ctx.emit("GatherElements", [ctx.name(logp), idx], [picked], { axis: r - 1 });
    ctx.emit("Squeeze", [picked, ctx.int64s([r - 1])], [squeezed]);
    ctx.emit("Where", [ignored, ctx.scalar(0, logits.dtype), squeezed], [ctx.name(out)]);
  },
  vjp(node, grads) {
    const [logits, target] = node.inputs as [Value, Value];
    const logp = node.outputs[1]!;
    const r = logits.rank;
    const probs = exp(logp);
    let dlogits: Value | null = null;
    if (grads[0]) {
      const ignored = equal(target, IGNORE_INDEX);
      const gm = unsqueeze(where(ignored, 0, grads[0]), [r - 1]);
      const safe = unsqueeze(where(ignored, 0, target), [r - 1]);
      dlogits = scatterElementsAdd(mul(probs, mul(gm, -1)), safe, gm, r - 1);
    }
    if (grads[1]) {
      const g1 = grads[1];
      const d1 = sub(g1, mul(probs, reduceSum(g1, [r - 1], true)));
      dlogits = dlogits ? add(dlogits, d1) : d1;
    }
    return [dlogits, null];
  },
  checks: [
    {
      name: "with-ignored",
      inputs: [{ shape: [2, 3, 5] }, { shape: [2, 3], dtype: "int64", gen: { values: [1, -100, 4, 0, 2, -100] } }],
    },
  ],
  reference: ([logits, target]) => {
    const last = logits!.shape.length - 1;
    const logp = build(logits!.shape, (idx) => at(logits!, idx) - logSumExp(lane(logits!, idx, last)));
    const picked = build(target!.shape, (idx) => {
      const t = at(target!, idx);
      return t === IGNORE_INDEX ? 0 : at(logp, [...idx, t]);
    });
    return [picked, logp];
  },
  forwardChecks: [{ name: "2d", inputs: [{ shape: [4, 3] }, { shape: [4], dtype: "int64", gen: { values: [2, 0, -100, 1] } }] }],
};

/**
 * log p(target) per position and the full log-softmax.
 * @param logits [..., V] float; targets [...] int64 (-100 = ignored, giving 0).
 */
export function targetLogp(logits: Value, targets: Value): { logp: Value; logSoftmax: Value } {
  const [logp, all] = logits.graph.apply(targetLogpOp, [logits, targets]);
  return { logp: logp!, logSoftmax: all! };
}
