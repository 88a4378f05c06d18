/**
 * Training config files (`--config FILE.yaml|json`): TRL-style snake_case keys (camelCase accepted),
 * validated with zod. Unknown keys and wrong types are errors naming the file and the key.
 */
import { z } from "zod";
import { parse as parseYaml } from "yaml";
import { readTextFile } from "@ortrl/core";

const files = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const int = z.number().int();

/** Keys common to every `ortrl train <method>` config. */
export const trainingSchema = z.object({
  model: z.string(),
  data: files,
  evalData: files,
  outputDir: z.string(),
  learningRate: z.number(),
  embeddingLearningRate: z.number().nullable(),
  numTrainEpochs: z.number(),
  maxSteps: int,
  perDeviceTrainBatchSize: int,
  perDeviceEvalBatchSize: int,
  gradientAccumulationSteps: int,
  lrSchedulerType: z.enum(["linear", "cosine", "constant", "constant_with_warmup"]),
  warmupSteps: int,
  warmupRatio: z.number(),
  weightDecay: z.number(),
  adamBeta1: z.number(),
  adamBeta2: z.number(),
  adamEpsilon: z.number(),
  optim: z.enum(["adamw_torch", "sgd"]),
  sgdMomentum: z.number(),
  maxGradNorm: z.number(),
  loggingSteps: int,
  evalSteps: int.nullable(),
  saveSteps: int,
  saveTotalLimit: int.nullable(),
  seed: int,
  resumeFromCheckpoint: z.string().nullable(),
  shuffle: z.boolean(),
  maxSeqLength: int,
  packing: z.boolean(),
  evalHoldout: z.number(),
  device: z.enum(["cpu", "cuda"]),
  threads: int,
});

const snakeToCamel = (k: string) => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/**
 * Reads and validates a config file against `schema` (all keys optional).
 * @throws Error "FILE: key 'k': message" for unknown keys or wrong types, or on unparsable files.
 */
export function readConfigFile<S extends z.ZodObject>(path: string, schema: S): Partial<z.infer<S>> {
  const text = readTextFile(path);
  let raw: unknown;
  try {
    raw = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new Error(`${path}: cannot parse (${(e as Error).message.split("\n")[0]})`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new Error(`${path}: expected a mapping of option names to values`);
  const camel: Record<string, unknown> = {};
  const written = new Map<string, string>(); // camelCase key -> the key as written in the file
  for (const [k, v] of Object.entries(raw)) {
    const c = snakeToCamel(k);
    if (written.has(c)) throw new Error(`${path}: key '${k}': duplicates '${written.get(c)}'`);
    camel[c] = v;
    written.set(c, k);
  }
  const result = schema.partial().strict().safeParse(camel);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = issue.path.length ? String(issue.path[0]) : (issue as { keys?: string[] }).keys?.[0] ?? "";
    const message = issue.code === "unrecognized_keys" ? "unknown option" : issue.message;
    throw new Error(`${path}: key '${written.get(key) ?? key}': ${message}`);
  }
  return result.data as Partial<z.infer<S>>;
}
