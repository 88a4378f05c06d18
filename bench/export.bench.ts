/**
 * GGUF export benchmark (`npm run bench -- export`): seconds and peak RSS of `ortrl export gguf` on a
 * SmolLM2-135M-shaped model (random float32 weights, std 0.02, saved with savePretrained: ~538 MB of F32
 * safetensors; a byte-level BPE tokenizer of 49,152 ids from GPT-2's vocabulary and merges in ../shared).
 *
 * Each export is a fresh Node process running the built CLI (`packages/cli/bin/ortrl.js`; `npm run build` first),
 * so peak RSS (the child's VmHWM from /proc/self/status, printed at exit by an --import hook) is the export's own.
 * Not process.resourceUsage().maxRSS: Linux carries ru_maxrss over fork + exec, so a child of this process (which
 * held the ~540 MB of weights while writing the model) would report at least this process's peak, whatever it used.
 * Out types interleave (f16, q8_0, f32, f16, ...) for ORTRL_BENCH_REPEATS rounds (default 3); one record per out
 * type: medians and per-run figures, the file size, and peak RSS over the model's safetensors size (the writer
 * streams one tensor at a time, so this should stay well under 2). A baseline process (`ortrl --version`) gives
 * the CLI's own RSS. The model lives in a temporary folder under os.tmpdir(), removed at the end.
 *   ORTRL_BENCH_OUTTYPES=f16,q8_0,f32  ORTRL_BENCH_REPEATS=3
 * No peer: llama.cpp's convert_hf_to_gguf.py (gguf-py, numpy, torch) is not installable offline here.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ParamStore, Rng, WEIGHTS_FILE, llamaParamSpecs, parseLlamaConfig, savePretrained } from "@ortrl/core";
import { writeBpeChatTokenizer } from "../test/helpers/bpe-chat-model.js";
import { median, record } from "./report.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(root, "packages/cli/bin/ortrl.js");
/** GPT-2 merges kept: 3 specials + 256 bytes + 48,893 merges = SmolLM2's 49,152 ids. */
const MERGES = 49152 - 3 - 256;
const HWM_TAG = "ORTRL_BENCH_VMHWM_KB";
/** Loaded before the CLI in the child: prints the process's peak RSS (VmHWM, KiB) to stderr at exit. */
const RSS_HOOK = `data:text/javascript,${encodeURIComponent(
  `import { readFileSync } from "node:fs";
process.on("exit", () => process.stderr.write("\\n${HWM_TAG} " + /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1] + "\\n"));`,
)}`;

/** Writes the SmolLM2-135M-shaped model to `dir`; returns the safetensors size in bytes. */
async function makeModel(dir: string): Promise<number> {
  const vocabSize = writeBpeChatTokenizer(dir, MERGES);
  const config = parseLlamaConfig({
    architectures: ["LlamaForCausalLM"], model_type: "llama", hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30,
    num_attention_heads: 9, num_key_value_heads: 3, vocab_size: vocabSize, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
    rope_theta: 100000, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: 2, torch_dtype: "float32",
  });
  const params = new ParamStore(llamaParamSpecs(config));
  const rng = new Rng(1);
  for (const n of params.names) {
    const v = params.get(n);
    if (n.endsWith("norm.weight")) v.fill(1);
    else for (let i = 0; i < v.length; i++) v[i] = rng.normal() * 0.02;
  }
  await savePretrained(dir, { config, params });
  return statSync(join(dir, WEIGHTS_FILE)).size;
}

interface Run {
  seconds: number;
  peak_rss_bytes: number;
  stdout: string;
}

function runCli(args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["--import", RSS_HOOK, CLI, ...args], { encoding: "utf8", cwd: root, timeout: 1_800_000, env: process.env });
  const seconds = (performance.now() - t0) / 1000;
  const kb = new RegExp(`${HWM_TAG} (\\d+)`).exec(r.stderr ?? "");
  if (r.status !== 0 || !kb) throw new Error(`ortrl ${args.join(" ")} failed (status ${r.status}, signal ${r.signal}):\n${(r.stderr ?? "").slice(-2000)}`);
  return { seconds, peak_rss_bytes: Number(kb[1]) * 1024, stdout: r.stdout };
}

const range = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];

export async function benchExport(): Promise<void> {
  const outtypes = (process.env.ORTRL_BENCH_OUTTYPES ?? "f16,q8_0,f32").split(",");
  const repeats = Number(process.env.ORTRL_BENCH_REPEATS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), "ortrl-export-bench-"));
  try {
    const modelDir = join(dir, "smollm2-135m-shape");
    const t0 = performance.now();
    const modelBytes = await makeModel(modelDir);
    console.error(`model written: ${modelBytes} bytes of safetensors in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const runs: Record<string, (Run & { file_bytes: number; fallbacks: number })[]> = Object.fromEntries(outtypes.map((o) => [o, []]));
    const baseline: number[] = [];
    for (let r = 0; r < repeats; r++) {
      baseline.push(runCli(["--version"]).peak_rss_bytes);
      for (const outtype of outtypes) {
        const output = join(dir, `model-${outtype}.gguf`);
        const run = runCli(["export", "gguf", "--model", modelDir, "--output", output, "--outtype", outtype]);
        const line = run.stdout.trim().split("\n").filter((l) => l.startsWith("{")).at(-1);
        const printed = line ? (JSON.parse(line) as { bytes?: number; f16_fallbacks?: unknown[] }) : {};
        const fileBytes = statSync(output).size;
        if (printed.bytes !== undefined && printed.bytes !== fileBytes) throw new Error(`ortrl printed ${printed.bytes} bytes, the file has ${fileBytes}`);
        rmSync(output);
        runs[outtype]!.push({ ...run, file_bytes: fileBytes, fallbacks: printed.f16_fallbacks?.length ?? 0 });
        console.error(`${outtype} round ${r + 1}: ${run.seconds.toFixed(2)} s, peak RSS ${(run.peak_rss_bytes / 2 ** 20).toFixed(0)} MiB`);
      }
    }
    for (const outtype of outtypes) {
      const rs = runs[outtype]!;
      const seconds = rs.map((x) => x.seconds);
      const rss = rs.map((x) => x.peak_rss_bytes);
      record({
        bench: "export.gguf",
        config: "smollm2-135m",
        outtype,
        repeats,
        shape: "SmolLM2-135M (hidden 576, 30 layers, vocab 49152, tied), random F32 weights; fresh `ortrl export gguf` process per run",
        model_bytes: modelBytes,
        seconds: median(seconds),
        seconds_range: range(seconds),
        seconds_runs: seconds,
        peak_rss_bytes: median(rss),
        peak_rss_range: range(rss),
        peak_rss_runs: rss,
        rss_over_model: median(rss) / modelBytes,
        cli_baseline_rss_bytes: median(baseline),
        file_bytes: rs[0]!.file_bytes,
        f16_fallbacks: rs[0]!.fallbacks,
        peer: "none: llama.cpp's convert_hf_to_gguf.py / gguf-py not installable offline (Debian 12 has no python3-gguf)",
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
