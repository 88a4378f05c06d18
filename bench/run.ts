/**
 * `npm run bench [-- NAME...]`: runs the named benchmarks (default: all), appending results to
 * bench/results.jsonl. Threads: ORTRL_THREADS (default 2).
 */
import { benchEngine } from "./engine.bench.js";
import { benchLlama } from "./llama.bench.js";
import { benchDpo } from "./dpo.bench.js";
import { benchGrpo } from "./grpo.bench.js";
import { benchExport } from "./export.bench.js";
import { benchBounds } from "./bounds.bench.js";
import { benchProfile } from "./profile.bench.js";

const threads = Number(process.env.ORTRL_THREADS ?? 2);
const all: Record<string, () => Promise<void>> = {
  engine: () => benchEngine(threads),
  llama: () => benchLlama(threads),
  dpo: () => benchDpo(threads),
  grpo: () => benchGrpo(threads),
  export: () => benchExport(),
  bounds: () => benchBounds(threads),
  profile: () => benchProfile(threads),
};
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
for (const n of names.length ? names : Object.keys(all)) {
  const fn = all[n];
  if (!fn) {
    console.error(`unknown benchmark '${n}'; known: ${Object.keys(all).join(", ")}`);
    process.exit(2);
  }
  await fn();
}
