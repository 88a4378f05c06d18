/**
 * Packing: examples placed into rows of at most `maxLength` tokens by best-fit decreasing (TRL's
 * packing_strategy "bfd"): longest first, each into the open row with the least room that still
 * fits it, else a new row. No example is split across rows (examples must already be truncated to
 * maxLength). Each sample of a row gets its own segment id (1, 2, ...), which the core collator turns
 * into an attention mask that keeps samples from attending to each other and positions that restart
 * at 0 per sample. The first label of every sample is -100: the causal loss would otherwise score
 * a sample's first token from the previous sample's last one (transformers'
 * DataCollatorWithFlattening does the same); an unpacked example never scores its first token either,
 * so packing leaves the set of scored tokens unchanged.
 */
import { IGNORE_INDEX, type TokenizedExample } from "@ortrl/core";

/**
 * @returns rows with `segments` (1..n), in the order they were opened.
 * @throws Error when an example is longer than maxLength or empty.
 */
export function packExamples(examples: readonly TokenizedExample[], maxLength: number): TokenizedExample[] {
  const order = examples.map((_, i) => i).sort((a, b) => examples[b]!.inputIds.length - examples[a]!.inputIds.length || a - b);
  const rows: { members: number[]; room: number }[] = [];
  // Open rows sorted by remaining room (ascending) for a binary-searched best fit.
  const open: { row: number; room: number }[] = [];
  for (const i of order) {
    const len = examples[i]!.inputIds.length;
    if (len === 0) throw new Error(`packExamples: example ${i} is empty`);
    if (len > maxLength) throw new Error(`packExamples: example ${i} has ${len} tokens, more than the row length ${maxLength}`);
    let lo = 0;
    let hi = open.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (open[mid]!.room < len) lo = mid + 1;
      else hi = mid;
    }
    let row: number;
    if (lo < open.length) {
      row = open[lo]!.row;
      open.splice(lo, 1);
    } else {
      row = rows.length;
      rows.push({ members: [], room: maxLength });
    }
    rows[row]!.members.push(i);
    rows[row]!.room -= len;
    const room = rows[row]!.room;
    if (room > 0) {
      let at = 0;
      let top = open.length;
      while (at < top) {
        const mid = (at + top) >> 1;
        if (open[mid]!.room < room) at = mid + 1;
        else top = mid;
      }
      open.splice(at, 0, { row, room });
    }
  }
  return rows.map(({ members }) => {
    const inputIds: number[] = [];
    const labels: number[] = [];
    const segments: number[] = [];
    members.forEach((i, k) => {
      const e = examples[i]!;
      e.inputIds.forEach((id, t) => {
        inputIds.push(id);
        labels.push(t === 0 ? IGNORE_INDEX : e.labels[t]!);
        segments.push(k + 1);
      });
    });
    return { inputIds, labels, segments };
  });
}
