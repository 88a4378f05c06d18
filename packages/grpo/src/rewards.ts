/**
 * Built-in reward functions and the resolution of reward specs (`--reward-funcs`).
 *
 * Built-ins, usable by name:
 *   - `accuracy`: 1 when the last number in the completion equals the row's `answer` (or `solution`)
 *     column, else 0; null (not applicable) for a row without an answer. A GSM8K answer ("... #### 72") is read after its last "####"; numbers compare
 *     numerically with thousands separators removed ("1,000" = 1000); a non-numeric answer compares
 *     as trimmed text with the completion's last line.
 *   - `format`: 1 when the completion matches the regular expression `formatPattern`
 *     (default `^<think>[\s\S]*?</think>`), else 0.
 * A spec `FILE:exportName` loads a named export of a `.ts`, `.mts`, `.js` or `.mjs` module (TypeScript
 * through tsx, without a build step); a function gets its own name (or `reward_<i>`).
 */
import { existsSync } from "node:fs";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type ChatMessage, ConfigError, type NamedReward, type RewardArgs, type RewardFn } from "@ortrl/core";
import type { RewardSpec } from "./grpo-config.js";

/** The text of a completion (the last message's content for conversational completions). */
export function completionText(c: string | ChatMessage[]): string {
  return typeof c === "string" ? c : (c.at(-1)?.content ?? "");
}

const NUMBER = /-?\d[\d,]*(?:\.\d+)?/g;

/** The last number in a text (commas removed), or null. */
export function lastNumber(text: string): number | null {
  const all = text.match(NUMBER);
  if (!all) return null;
  const v = Number(all.at(-1)!.replace(/,/g, ""));
  return Number.isFinite(v) ? v : null;
}

/** The gold answer of a row: after GSM8K's last "####" when present, trimmed. */
export function goldAnswer(answer: unknown): string {
  const s = String(answer);
  const i = s.lastIndexOf("####");
  return (i >= 0 ? s.slice(i + 4) : s).trim();
}

/**
 * Built-in `accuracy` (see the file comment).
 * @throws Error when the dataset has neither an `answer` nor a `solution` column.
 */
export const accuracyReward: RewardFn = (args: RewardArgs) => {
  const gold = (args.answer ?? args.solution) as unknown[] | undefined;
  if (!gold) throw new Error("the built-in 'accuracy' reward needs an 'answer' or 'solution' column in the dataset");
  return args.completions.map((c, i) => {
    if (gold[i] === undefined || gold[i] === null || String(gold[i]).trim() === "") return null; // no answer: not applicable
    const want = goldAnswer(gold[i]);
    const text = completionText(c);
    const wantNum = lastNumber(want);
    if (wantNum !== null && /^[-$\d.,\s]+$/.test(want)) {
      const got = lastNumber(text);
      return got !== null && Math.abs(got - wantNum) < 1e-6 ? 1 : 0;
    }
    return text.trim().split("\n").at(-1)!.trim() === want ? 1 : 0;
  });
};

/** Built-in `format`: 1 when the completion matches `pattern`. */
export function formatReward(pattern: string): RewardFn {
  const re = new RegExp(pattern);
  return (args: RewardArgs) => args.completions.map((c) => (re.test(completionText(c)) ? 1 : 0));
}

export const BUILTIN_REWARDS = ["accuracy", "format"] as const;

/**
 * Turns specs into named, weighted reward functions.
 * @throws Error naming the spec for an unknown built-in, a missing file, a missing export or an
 *   export that is not a function.
 */
export async function resolveRewards(specs: readonly RewardSpec[], weights: readonly number[] | null, opts: { formatPattern: string }): Promise<NamedReward[]> {
  const out: NamedReward[] = [];
  for (const [i, spec] of specs.entries()) {
    const weight = weights?.[i];
    if (typeof spec === "function") out.push({ name: spec.name || `reward_${i}`, fn: spec, weight: weight ?? 1 });
    else if (typeof spec === "object") out.push({ ...spec, weight: weight ?? spec.weight ?? 1 });
    else out.push({ ...(await loadSpec(spec, opts)), weight: weight ?? 1 });
  }
  const names = out.map((r) => r.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`reward functions: two are named '${dup}'; metric keys (rewards/<name>/mean) need distinct names`);
  return out;
}

/** A reward spec that cannot be used: a usage error naming the spec (exit code 2 on the command line). */
const specError = (spec: string, msg: string) => new ConfigError("reward functions", "rewardFuncs", `reward function '${spec}': ${msg}`);

async function loadSpec(spec: string, opts: { formatPattern: string }): Promise<NamedReward> {
  if (spec === "accuracy") return { name: "accuracy", fn: accuracyReward };
  if (spec === "format") return { name: "format", fn: formatReward(opts.formatPattern) };
  const colon = spec.lastIndexOf(":");
  const file = colon > 0 ? spec.slice(0, colon) : spec;
  const name = colon > 0 ? spec.slice(colon + 1) : "";
  const ext = extname(file).toLowerCase();
  if (![".ts", ".mts", ".js", ".mjs"].includes(ext) || !name) {
    throw specError(spec, `not a built-in (${BUILTIN_REWARDS.join(", ")}) nor FILE:exportName with FILE a .ts, .mts, .js or .mjs module`);
  }
  const path = resolve(file);
  if (!existsSync(path)) throw specError(spec, `${file}: file not found`);
  let mod: Record<string, unknown>;
  try {
    if (ext === ".ts" || ext === ".mts") {
      const { tsImport } = await import("tsx/esm/api");
      mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as Record<string, unknown>;
    } else mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (e) {
    const lines = (e as Error).message.split("\n").map((l) => l.trim()).filter(Boolean);
    throw specError(spec, `${file} failed to load (${lines.slice(0, 3).join(" ")})`);
  }
  // `FILE:default` is the default export; a CommonJS module's exports arrive as `default`.
  const cjs = (typeof mod.default === "object" && mod.default !== null ? mod.default : {}) as Record<string, unknown>;
  const fn = mod[name] ?? cjs[name];
  if (fn === undefined) throw specError(spec, `${file} has no export '${name}' (exports: ${[...new Set([...Object.keys(mod), ...Object.keys(cjs)])].join(", ") || "none"})`);
  if (typeof fn !== "function") throw specError(spec, `export '${name}' of ${file} is ${fn === null ? "null" : `a ${typeof fn}`}, not a function`);
  return { name: name === "default" ? (fn as RewardFn).name || "default" : name, fn: fn as RewardFn };
}
