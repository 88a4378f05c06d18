/**
 * Chat templates: the message type and rendering a Jinja chat template with `@huggingface/jinja`, as
 * transformers' `apply_chat_template(..., tokenize=False)` does. Both tokenizers (hf-tokenizer.ts,
 * byte-tokenizer.ts) render through {@link renderChatTemplate}.
 */
import { Template } from "@huggingface/jinja";

/** One chat turn, as in transformers' `apply_chat_template` (extra keys are passed to the template as is). */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** Render the prompt that opens an assistant turn (`add_generation_prompt`). Default false. */
  addGenerationPrompt?: boolean;
  /** A Jinja template to use instead of the tokenizer's own. */
  chatTemplate?: string;
  /** Extra template variables (transformers' `**kwargs`), e.g. `{ tools: [...] }`; they override the special tokens. */
  templateVars?: Record<string, unknown>;
}

const templateCache = new Map<string, Template>();
const TEMPLATE_CACHE_SIZE = 32;

function compileTemplate(source: string): Template {
  let t = templateCache.get(source);
  if (t) return t;
  try {
    t = new Template(source);
  } catch (e) {
    throw new Error(`chat template does not parse: ${(e as Error).message}`);
  }
  if (templateCache.size >= TEMPLATE_CACHE_SIZE) templateCache.delete(templateCache.keys().next().value!);
  templateCache.set(source, t);
  return t;
}

/**
 * Renders a chat template the way transformers' `apply_chat_template(..., tokenize=False)` does: Jinja with
 * `trim_blocks` and `lstrip_blocks` (as `@huggingface/jinja` always uses), variables `messages`,
 * `add_generation_prompt`, the special tokens that are set (`bos_token`, `eos_token`, `unk_token`, `pad_token`),
 * `templateVars`, and the library's globals (`raise_exception(msg)`, `range`, `strftime_now`, ...).
 * @throws TypeError for malformed `messages`; Error "chat template does not parse: ..." or
 *   "chat template failed to render: MSG" (MSG is raise_exception's argument when the template raises).
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  specialTokens: Record<string, string | null>,
  opts: Omit<ChatTemplateOptions, "chatTemplate"> = {},
): string {
  if (!Array.isArray(messages)) throw new TypeError("applyChatTemplate: messages must be an array");
  messages.forEach((m, i) => {
    if (typeof m !== "object" || m === null || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new TypeError(`applyChatTemplate: messages[${i}] must be { role: string; content: string }`);
    }
  });
  const compiled = compileTemplate(template);
  const vars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(specialTokens)) if (v !== null) vars[k] = v;
  Object.assign(vars, opts.templateVars ?? {});
  vars.messages = messages.map((m) => ({ ...m }));
  vars.add_generation_prompt = opts.addGenerationPrompt ?? false;
  // raise_exception(msg) is a global of @huggingface/jinja (it throws Error(msg)); it cannot be redefined.
  delete vars.raise_exception;
  try {
    return compiled.render(vars);
  } catch (e) {
    throw new Error(`chat template failed to render: ${(e as Error).message}`);
  }
}
