import { type AnyTypedArray, type DType, allocTyped } from "./dtype.js";
import { type Dim, type Shape, formatShape } from "./shape.js";
import type { OpDef } from "../ops/op-def.js";

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
