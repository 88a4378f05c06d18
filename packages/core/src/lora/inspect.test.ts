import { describe, expect, it } from "vitest";
import { countParameters, groupThousands, trainableParametersLine, trainablePercent } from "./inspect.js";

describe("parameter counts as PEFT prints them", () => {
  it("formats PEFT's line: comma thousands, 4-decimal percentage", () => {
    // LLaMA-7B with r=8 on q_proj/v_proj: 32 layers · 2 modules · 8 · (4096 + 4096).
    expect(trainableParametersLine({ trainable: 4_194_304, all: 6_742_609_920 })).toBe("trainable params: 4,194,304 || all params: 6,742,609,920 || trainable%: 0.0622");
    expect(groupThousands(999)).toBe("999");
    expect(groupThousands(1000)).toBe("1,000");
    expect(trainablePercent({ trainable: 0, all: 0 })).toBeNull();
  });
  it("all = base + adapter; without an adapter everything is trainable", () => {
    expect(countParameters([[4, 3], [3]], null)).toEqual({ trainable: 15, all: 15 });
    expect(countParameters([[4, 3], [3]], [[2, 3], [4, 2]])).toEqual({ trainable: 14, all: 29 });
  });
});
