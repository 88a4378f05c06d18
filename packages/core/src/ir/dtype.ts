/**
 * Element types of graph values and their ONNX / JavaScript counterparts.
 *
 * `float64` exists for finite-difference gradient checks; models compute in `float32`.
 */
export type DType = "float32" | "float64" | "float16" | "int64" | "int32" | "bool";

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(["float32", "float64", "float16"]);

/** True for dtypes that carry gradients. */
export function isFloat(dtype: DType): boolean {
  return FLOAT_DTYPES.has(dtype);
}

/** ONNX TensorProto.DataType enum values. */
export const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  bool: 9,
  int32: 6,
  int64: 7,
  float16: 10,
  float64: 11,
};

/** Bytes per element. */
export const DTYPE_BYTES: Record<DType, number> = {
  float32: 4,
  float64: 8,
  float16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
};

export type AnyTypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

/** Allocates a zeroed typed array of `n` elements of `dtype`. */
export function allocTyped(dtype: DType, n: number): AnyTypedArray {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "bool":
      return new Uint8Array(n);
    case "float16":
      return new Uint16Array(n);
  }
}

/** onnxruntime-node's tensor type string for a dtype. */
export const ORT_TYPE: Record<DType, string> = {
  float32: "float32",
  float64: "float64",
  float16: "float16",
  int64: "int64",
  int32: "int32",
  bool: "bool",
};
