/**
 * The list of every primitive op. Tests enumerate it: each op with a VJP must carry gradient checks
 * (ops/gradcheck.test.ts), and every op a forward oracle (ops/forward-oracle.test.ts).
 */
import type { OpDef } from "../ir/graph.js";
import { addOp, divOp, mulOp, subOp } from "./arith.js";
import { maxOp, minOp } from "./binary.js";
import { powOp } from "./pow.js";
import { andOp, castOp, equalOp, greaterOp, greaterOrEqualOp, lessOp, lessOrEqualOp, notOp, orOp } from "./compare.js";
import { absOp, detachOp, expOp, logOp, negOp, reciprocalOp, sigmoidOp, signOp, softplusOp, sqrtOp, tanhOp } from "./unary.js";
import { reduceMaxOp, reduceMeanOp, reduceSumOp } from "./reduce.js";
import { matmulOp, matmulTOp } from "./matmul.js";
import { targetLogpOp } from "./cross-entropy.js";
import {
  concatOp,
  expandAsOp,
  expandOp,
  fullLikeOp,
  padOp,
  reshapeAsOp,
  sizeOfOp,
  reshapeOp,
  sliceOp,
  splitOp,
  squeezeOp,
  transposeOp,
  unsqueezeOp,
} from "./shape-ops.js";
import { gatherElementsOp, gatherNDOp, gatherOp, scatterElementsAddOp, scatterNDAddOp } from "./index-ops.js";
import { clipOp, whereOp } from "./select.js";
import { logSoftmaxOp, softmaxOp } from "./softmax.js";

export const OPS: readonly OpDef[] = [
  addOp, subOp, mulOp, divOp, powOp, maxOp, minOp,
  equalOp, lessOp, lessOrEqualOp, greaterOp, greaterOrEqualOp, andOp, orOp, notOp, castOp,
  negOp, expOp, logOp, sqrtOp, reciprocalOp, sigmoidOp, tanhOp, absOp, softplusOp, signOp, detachOp,
  reduceSumOp, reduceMeanOp, reduceMaxOp,
  matmulOp, matmulTOp, targetLogpOp,
  reshapeOp, reshapeAsOp, transposeOp, expandOp, expandAsOp, squeezeOp, unsqueezeOp, concatOp, splitOp, sliceOp, padOp, fullLikeOp, sizeOfOp,
  gatherOp, gatherElementsOp, gatherNDOp, scatterElementsAddOp, scatterNDAddOp,
  whereOp, clipOp,
  softmaxOp, logSoftmaxOp,
];

const BY_NAME = new Map(OPS.map((op) => [op.name, op]));

/** Looks an op up by name; throws on unknown names. */
export function getOp(name: string): OpDef {
  const op = BY_NAME.get(name);
  if (!op) throw new Error(`unknown op '${name}'`);
  return op;
}
