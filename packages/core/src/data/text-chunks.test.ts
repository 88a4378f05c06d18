/** Bounded tokenizer chunks: they join to the text, respect the bound, cut at line breaks or before spaces, and stop at a token limit. */
import { describe, expect, it } from "vitest";
import type { TokenizerLike } from "../tokenizer/tokenizer-like.js";
import { encodeLong, textChunks } from "./text-chunks.js";

/** One id per character; records the length of every text it is given. */
function charTokenizer(bos: number | null = 1) {
  const calls: number[] = [];
  const tok = {
    bosTokenId: bos,
    eosTokenId: 2,
    addBosToken: bos !== null,
    addEosToken: false,
    encode: (text: string) => {
      calls.push(text.length);
      return [...text].map((c) => c.charCodeAt(0));
    },
  } as unknown as TokenizerLike;
  return { tok, calls };
}

describe("textChunks", () => {
  it("joins back to the text and keeps every chunk within the bound", () => {
    const text = "word ".repeat(1000) + "x".repeat(250) + "\nend";
    const chunks = [...textChunks(text, 100)];
    expect(chunks.join("")).toBe(text);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(100);
    expect(chunks[1]!.startsWith(" word")).toBe(true); // cut before the space
  });

  it("prefers line breaks and never splits a surrogate pair", () => {
    expect([...textChunks("aaaa\nbb cc dd", 7)]).toEqual(["aaaa\n", "bb cc", " dd"]);
    const emoji = "😀".repeat(10); // 20 code units, no whitespace
    const parts = [...textChunks(emoji, 5)];
    expect(parts.join("")).toBe(emoji);
    for (const p of parts) expect(p.length % 2).toBe(0);
  });

  it("with paragraphs, cuts after every blank line exactly as /(?<=\\n\\n)/ splits", () => {
    for (const t of ["a\n\nb", "a\n\n\nb\n\n", "a\n\n\n\nb", "no break"]) {
      expect([...textChunks(t, 1000, true)]).toEqual(t.split(/(?<=\n\n)/).filter(Boolean));
    }
  });
});

describe("encodeLong", () => {
  it("adds BOS on request and tokenizes the whole text in bounded calls", () => {
    const { tok, calls } = charTokenizer();
    const text = "ab ".repeat(100);
    const r = encodeLong(tok, text, { bos: true, chunkChars: 32 });
    expect(r).toEqual({ ids: [1, ...[...text].map((c) => c.charCodeAt(0))], truncated: false });
    expect(Math.max(...calls)).toBeLessThanOrEqual(32);
  });

  it("stops at maxTokens without tokenizing the rest, and says it truncated", () => {
    const { tok, calls } = charTokenizer();
    const text = "abcd ".repeat(200_000); // 1 MB
    const r = encodeLong(tok, text, { bos: true, maxTokens: 10 });
    expect(r.ids).toHaveLength(10);
    expect(r.truncated).toBe(true);
    expect(calls).toHaveLength(1); // one bounded chunk, not a million characters
    expect(encodeLong(tok, "abc", { bos: true, maxTokens: 4 })).toEqual({ ids: [1, 97, 98, 99], truncated: false });
  });
});
