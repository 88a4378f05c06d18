import type { DType } from "../ir/dtype.js";
import type { Dim } from "../ir/shape.js";
import type { Attrs, Node, Value } from "../ir/graph.js";

/** Output type of an op application, computed by its shape/dtype rule. */
export interface ValueSpec {
  dtype: DType;
  shape: Dim[];
}

/** Attribute values that ONNX nodes carry. */
export type OnnxAttr = number | string | number[] | { float: number } | { floats: number[] } | { tensor: { dtype: DType; dims: number[]; data: number[] } };

/** What an op's ONNX lowering can emit. */
export interface LowerContext {
  /** ONNX name of a graph value. */
  name(v: Value): string;
  /** A fresh unique intermediate name. */
  fresh(hint: string): string;
  /** Appends an ONNX node. */
  emit(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, OnnxAttr>, domain?: string): void;
  /** Name of a 1-D int64 initializer holding `values` (memoised). */
  int64s(values: readonly number[]): string;
  /** Name of a rank-0 initializer (memoised). */
  scalar(value: number, dtype: DType): string;
}

/** How a gradient-check case draws an input. */
export type InputGen = "normal" | "positive" | "unit" | "distinct" | { int: [number, number] } | { bool: true } | { values: number[] };

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  gen?: InputGen;
  /** Check the gradient w.r.t. this input (default: true for float inputs). */
  grad?: boolean;
}

/**
 * One test case of an op: its inputs and attrs. `checks` are finite-difference gradient checks
 * (ops/gradcheck.test.ts); the forward-oracle test (ops/forward-oracle.test.ts) runs them and `forwardChecks`.
 */
export interface GradCheckCase {
  name: string;
  inputs: InputSpec[];
  attrs?: Attrs;
  /** Element type of float inputs; float64 where onnxruntime's CPU kernels allow it. */
  dtype?: "float64" | "float32";
}

/** A concrete tensor handed to a forward oracle: row-major values as JS numbers (bool as 0/1). */
export interface RefTensor {
  data: Float64Array;
  shape: readonly number[];
  dtype: DType;
}

/** A forward oracle's output; its dtype is the one the op's `infer` gives. */
export interface RefResult {
  data: Float64Array;
  shape: number[];
}

/**
 * One primitive op: its shape/dtype rule, ONNX lowering and vector-Jacobian product, in one registration.
 * `vjp` receives the node and the cotangents of its outputs (null where none flows) and returns the
 * cotangent of each input (null for none). Cotangents may have the broadcast output shape: the autodiff
 * driver reduces them to the input's shape (unbroadcasting lives there, once).
 */
export interface OpDef {
  readonly name: string;
  infer(inputs: readonly Value[], attrs: Attrs): ValueSpec[];
  lower(node: Node, ctx: LowerContext): void;
  /** Absent for ops with no gradient (integer/bool outputs, stop-gradient). */
  vjp?(node: Node, grads: (Value | null)[], needs: boolean[]): (Value | null)[];
  /** Finite-difference gradient checks; every op with a `vjp` must list at least one. */
  readonly checks?: GradCheckCase[];
  /**
   * Forward oracle: what the op means (its ONNX/NumPy semantics), evaluated plainly on concrete tensors
   * without onnxruntime. Every op must have one: ops/forward-oracle.test.ts compares `lower` against it.
   */
  reference?(inputs: readonly RefTensor[], attrs: Attrs): RefResult[];
  /** Forward-oracle cases beyond `checks` (attributes, integer/bool dtypes, ops without a gradient). */
  readonly forwardChecks?: GradCheckCase[];
}
