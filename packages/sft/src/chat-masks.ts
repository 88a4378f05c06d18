/**
 * Assistant-only loss masks from any chat template, without `{% generation %}` tags.
 *
 * Method (rendered-prefix differences): the conversation is rendered once in full (text F, tokens
 * `ids`), and for each assistant message i:
 *
 * 1. turn start: the longest common prefix of F and render(messages[:i], add_generation_prompt=True),
 *    i.e. everything the template emits before the assistant's content, role header included;
 * 2. turn end: the longest common prefix of render(messages[:i+1]), F and
 *    render(messages[:i+1] + [an empty user turn]); this drops what a template only emits at the end
 *    of a conversation (Phi-3's closing `<|endoftext|>`), which is no part of any turn;
 * 3. inside [start, end), the trained tokens start at the message's content (when the template
 *    emitted it verbatim; otherwise at the turn start) and run to the turn end, minus whitespace-only
 *    tokens after the turn-ending token (ChatML's "\n" after `<|im_end|>`), so what is trained is the
 *    content plus the token(s) that close the turn (`<|end|>`, `<|im_end|>`, `<|eot_id|>`, EOS, ...);
 * 4. character offsets become token indices by tokenizing the prefix F[:offset] and taking its
 *    longest common token prefix with `ids`, so a token that straddles the content start counts as
 *    trained and one that straddles the turn end does not.
 *
 * This relies on the template being prefix-stable (rendering a conversation's first k messages gives
 * a prefix of rendering all of them, up to end-of-conversation text), which holds for the templates
 * of Llama 2/3, Phi-3, ChatML/Qwen, Mistral, Gemma and Zephyr. Cost: O(turns) renders and prefix
 * tokenizations per record.
 */
import type { ChatMessage, TokenizerLike } from "@ortrl/core";

/** Renders messages with the run's chat template; `generationPrompt` = add_generation_prompt. */
export type ChatRenderer = (messages: readonly ChatMessage[], generationPrompt: boolean) => string;

/** Length of the longest common prefix of two strings or arrays. */
export function commonPrefixLength<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/** Number of tokens of `ids` (the tokens of F) lying wholly inside F[:offset]. */
export function tokensBefore(tok: TokenizerLike, text: string, ids: readonly number[], offset: number): number {
  if (offset <= 0) return 0;
  if (offset >= text.length) return ids.length;
  return commonPrefixLength(tok.encode(text.slice(0, offset), { addSpecialTokens: false }), ids);
}

/**
 * Per-token mask (true = assistant token to train) for `ids`, the tokens of `text` = render(messages, false).
 * @throws Error (from the template) when a prefix of the conversation does not render.
 */
export function assistantTokenMask(tok: TokenizerLike, messages: readonly ChatMessage[], text: string, ids: readonly number[], render: ChatRenderer): boolean[] {
  const mask = new Array<boolean>(ids.length).fill(false);
  messages.forEach((m, i) => {
    if (m.role !== "assistant") return;
    const start = commonPrefixLength(render(messages.slice(0, i), true), text);
    const upTo = messages.slice(0, i + 1);
    const own = render(upTo, false);
    let end = commonPrefixLength(own, text);
    try {
      end = Math.min(end, commonPrefixLength(own, render([...upTo, { role: "user", content: "" }], false)));
    } catch {
      // A template that refuses the probe turn: keep the end found against the full text.
    }
    if (end <= start) return;
    const at = m.content ? text.indexOf(m.content, start) : -1;
    const found = at >= 0 && at + m.content.length <= end;
    const s = tokensBefore(tok, text, ids, found ? at : start);
    let e = tokensBefore(tok, text, ids, end);
    if (found) {
      // Whitespace after the turn-ending token is not trained (the content's own whitespace is).
      const contentEnd = Math.max(s, tokensBefore(tok, text, ids, at + m.content.length));
      const blank = (t: number) => tok.decode([ids[t]!]).trim() === "";
      let k = e;
      while (k > contentEnd && blank(k - 1)) k--;
      if (k > contentEnd) e = k;
    }
    for (let t = s; t < e; t++) mask[t] = true;
  });
  return mask;
}
