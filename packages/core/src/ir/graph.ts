/**
 * The graph IR: values, nodes and graphs, and the op interface (OpDef) every node applies. They refer to
 * one another (a node holds its op; an op's rules take nodes and values), so they share this module;
 * the ops themselves live in ops/ and register an OpDef each.
 */
import { type AnyTypedArray, type DType, allocTyped } from "./dtype.js";
import { type Dim, type Shape, formatShape } from "./shape.js";

/** Attribute bag of a node; op-specific, validated by the op's `infer`. */
export type Attrs = Record<string, unknown>;

/**
 * A tensor-valued symbol in a {@link Graph}: a graph input, a constant, or an output of a node.
 * Values are immutable; shape entries are numbers or symbolic names (see {@link Dim}).
 */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: readonly Dim[],
    /** The node producing this value; null for inputs and constants. */
    readonly node: Node | null,
    readonly outputIndex: number,
    /** Public name of graph inputs (the ONNX input name); undefined otherwise. */
    readonly name?: string,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name ?? `v${this.id}`}:${this.dtype}${formatShape(this.shape)}`;
  }
}

/** One application of an op. `outputs` are created by {@link Graph.apply}. */
export class Node {
  outputs: Value[] = [];
  constructor(
    readonly id: number,
    readonly op: OpDef,
    readonly inputs: readonly Value[],
    readonly attrs: Attrs,
  ) {}
}

/** Data of a constant value (an ONNX initializer on export). */
export interface ConstantData {
  readonly value: Value;
  readonly data: AnyTypedArray;
}

/**
 * A computation graph under construction: inputs, constants and nodes in topological order
 * (nodes can only consume values that already exist, so insertion order is a valid schedule).
 *
 * Errors: {@link apply} throws a TypeError naming the op, the input shapes and dtypes when the op's
 * shape/dtype rule rejects its inputs; {@link input} throws on a duplicate name.
 */
export class Graph {
  readonly inputs: Value[] = [];
  readonly nodes: Node[] = [];
  readonly constants = new Map<number, ConstantData>();
  private nextId = 0;
  private readonly scalarCache = new Map<string, Value>();
  private readonly inputNames = new Set<string>();

  /** Declares a graph input (a feed at run time). */
  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.inputNames.has(name)) throw new Error(`Graph.input: duplicate input name '${name}'`);
    this.inputNames.add(name);
    const v = new Value(this, this.nextId++, dtype, [...shape], null, 0, name);
    this.inputs.push(v);
    return v;
  }

  /** Embeds a constant tensor; `data.length` must equal the product of `shape`. */
  constant(data: AnyTypedArray, dtype: DType, shape: readonly number[]): Value {
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new Error(`Graph.constant: ${data.length} elements for shape ${formatShape(shape)}`);
    const v = new Value(this, this.nextId++, dtype, [...shape], null, 0);
    this.constants.set(v.id, { value: v, data });
    return v;
  }

  /** A rank-0 constant, memoised per (dtype, value). */
  scalar(value: number | boolean, dtype: DType): Value {
    const key = `${dtype}:${value}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      const data = allocTyped(dtype, 1);
      if (data instanceof BigInt64Array) data[0] = BigInt(value as number);
      else data[0] = Number(value);
      v = this.constant(data, dtype, []);
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** Applies `op` to `inputs`, checking shapes and dtypes with the op's rule. Returns its outputs. */
  apply(op: OpDef, inputs: readonly Value[], attrs: Attrs = {}): Value[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new Error(`${op.name}: input ${x} belongs to another graph`);
    }
    let specs;
    try {
      specs = op.infer(inputs, attrs);
    } catch (e) {
      const desc = inputs.map((x) => `${x.dtype}${formatShape(x.shape)}`).join(", ");
      throw new TypeError(`${op.name}(${desc}): ${(e as Error).message}`);
    }
    const node = new Node(this.nextId++, op, inputs, attrs);
    node.outputs = specs.map((s, i) => new Value(this, this.nextId++, s.dtype, s.shape, node, i));
    this.nodes.push(node);
    return node.outputs;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Ops

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
