/** Appends benchmark records to bench/results.jsonl (one JSON object per line) and prints them. */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const RESULTS_FILE = join(dirname(fileURLToPath(import.meta.url)), "results.jsonl");

export interface BenchRecord {
  bench: string;
  [metric: string]: unknown;
}

export function record(r: BenchRecord): void {
  const full = {
    time: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    ...r,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  appendFileSync(RESULTS_FILE, JSON.stringify(full) + "\n");
  console.log(JSON.stringify(r));
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Peak resident set size of this process so far, in bytes (Linux VmHWM). */
export function peakRssBytes(): number {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return process.resourceUsage().maxRSS * 1024;
}
