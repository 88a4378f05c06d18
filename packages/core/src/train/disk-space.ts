/**
 * A look at free disk space before a run writes anything: one checkpoint (trained tensors, optimizer
 * state) plus the final model must fit, or the run is warned with the figures (it still starts: the
 * estimate cannot know what else will be freed or written meanwhile).
 */
import { existsSync, statfsSync } from "node:fs";
import { dirname, resolve } from "node:path";

/** Bytes as "1.23 GB" (decimal units, as `df -H`). */
export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(2)} ${units[i]}`;
}

/** Free bytes for an unprivileged user on the file system holding `path` (or its nearest existing ancestor); null when unknown. */
export function freeBytes(path: string): number | null {
  let p = resolve(path);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    const s = statfsSync(p);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/**
 * Estimated sizes of a run's outputs, in bytes: the final model (float32 trained tensors; for full
 * fine-tuning all parameters) and one checkpoint (that model plus `optimizerSlots` float32 values per
 * trained value: AdamW keeps 2, SGD with momentum 1).
 */
export function outputSizes(trainedValues: number, optimizerSlots: number): { finalModel: number; checkpoint: number } {
  const finalModel = trainedValues * 4;
  return { finalModel, checkpoint: finalModel + trainedValues * 4 * optimizerSlots };
}

/**
 * Warns (process warning ORTRL_LOW_DISK) when the file system of `outputDir` has less free space than
 * one checkpoint plus the final model. Returns the free bytes (null when unknown).
 */
export function warnIfLowDisk(outputDir: string, sizes: { finalModel: number; checkpoint: number }): number | null {
  const free = freeBytes(outputDir);
  const need = sizes.finalModel + sizes.checkpoint;
  if (free !== null && free < need) {
    process.emitWarning(
      `${outputDir}: ${formatBytes(free)} free on its file system, but a checkpoint (${formatBytes(sizes.checkpoint)}) and the final model (${formatBytes(sizes.finalModel)}) need about ${formatBytes(need)}`,
      { code: "ORTRL_LOW_DISK" },
    );
  }
  return free;
}
