/**
 * Where a chat template comes from when a config names one (TRL's chat_template_path): inline Jinja,
 * or a `.jinja` file.
 */
import { DataError, readTextFile } from "./jsonl.js";

/**
 * The chat template a `chatTemplate` setting names: null stays null (use the tokenizer's); a string
 * containing Jinja markup (`{{` or `{%`) is the template itself; anything else is read as a file path.
 * @throws DataError when the file is missing or empty.
 */
export function loadChatTemplate(value: string | null): string | null {
  if (value === null) return null;
  if (value.includes("{{") || value.includes("{%")) return value;
  const text = readTextFile(value);
  if (!text.trim()) throw new DataError(value, 0, "chat template file is empty");
  return text;
}
