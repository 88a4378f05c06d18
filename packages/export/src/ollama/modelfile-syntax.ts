/**
 * Modelfile syntax as Ollama reads it (its parser/parser.go `ParseFile`; the commands are described in
 * Ollama's docs/modelfile.md): one command per line, `NAME value`, `#` comments, and values that are bare
 * text, `"quoted"` or `"""triple-quoted"""` (these may span lines). Quoted values are taken verbatim:
 * there are no escape sequences (a backslash is a backslash, and a `"` inside `"..."` needs no escape),
 * characters that are not printable (Go's unicode.IsPrint) other than tab and newlines are dropped, and a
 * value ends at the first line end where the text so far, trimmed, is a complete quoted (or bare) value.
 * So instead of escaping, {@link modelfileLine} picks a quoting that {@link parseModelfile} (a mirror of
 * that parser) reads back exactly, and refuses values no quoting can carry.
 */

/** One parsed command: `name` is lower case ("model" for FROM; a PARAMETER's own name such as "stop"). */
export interface ModelfileCommand {
  name: string;
  args: string;
}

const COMMANDS = new Set(["from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "message", "requires"]);
const MESSAGE_ROLES = new Set(["system", "user", "assistant"]);

const isNewline = (c: string) => c === "\n" || c === "\r";
const isSpace = (c: string) => c === " " || c === "\t";
const isAlpha = (c: string) => /^[A-Za-z]$/.test(c);
/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const isPrint = (c: string) => /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(c);
/** Go's strings.TrimSpace (Unicode White_Space; unlike String.prototype.trim it keeps U+FEFF). */
const goTrimSpace = (s: string) =>
  s.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, "");

/** A value's text without its quotes, or null when its quotes are not closed (Ollama's `unquote`). */
function unquote(s: string): string | null {
  if (s.startsWith('"""')) return s.length >= 6 && s.endsWith('"""') ? s.slice(3, -3) : null;
  if (s.startsWith('"')) return s.length >= 2 && s.endsWith('"') ? s.slice(1, -1) : null;
  return s;
}

type State = "nil" | "name" | "value" | "parameter" | "message" | "comment";

/**
 * Parses Modelfile text the way Ollama's parser does (see this file's header).
 * @returns the commands in order.
 * @throws Error "Modelfile line N: ..." for an unknown command, a bad MESSAGE role or PARAMETER name, an
 *   unclosed quote, or no FROM line.
 */
export function parseModelfile(text: string): ModelfileCommand[] {
  const commands: ModelfileCommand[] = [];
  let state: State = "nil";
  let line = 1;
  let buf = "";
  let name = "";
  let role = "";
  const fail = (msg: string): never => {
    throw new Error(`Modelfile line ${line}: ${msg}`);
  };
  const chars = Array.from(text.startsWith("\ufeff") ? text.slice(1) : text);
  for (const c of chars) {
    if (isNewline(c)) line++;
    // The next state and the character to keep ("" for none), as Ollama's parseRuneForState.
    let next: State = state;
    let keep = c;
    switch (state) {
      case "nil":
        if (c === "#") [next, keep] = ["comment", ""];
        else if (isSpace(c) || isNewline(c)) [next, keep] = ["nil", ""];
        else next = "name";
        break;
      case "name":
        if (isAlpha(c)) next = "name";
        else if (isSpace(c)) [next, keep] = ["value", ""];
        else return fail("a command must be one of FROM, LICENSE, TEMPLATE, SYSTEM, ADAPTER, DRAFT, RENDERER, PARSER, PARAMETER, MESSAGE, REQUIRES");
        break;
      case "value":
        next = isNewline(c) || isSpace(c) ? "nil" : "value";
        break;
      case "parameter":
        if (isAlpha(c) || /^[0-9_]$/.test(c)) next = "parameter";
        else if (isSpace(c)) [next, keep] = ["value", ""];
        else return fail("unexpected end of a PARAMETER name");
        break;
      case "message":
        if (isAlpha(c)) next = "message";
        else if (isSpace(c)) [next, keep] = ["value", ""];
        else return fail("unexpected end of a MESSAGE role");
        break;
      case "comment":
        [next, keep] = [isNewline(c) ? "nil" : "comment", ""];
        break;
    }
    if (next !== state) {
      if (state === "name") {
        const cmd = buf.toLowerCase();
        if (!COMMANDS.has(cmd)) return fail(`unknown command ${JSON.stringify(buf)}`);
        if (cmd === "from") name = "model";
        else if (cmd === "parameter") next = "parameter";
        else if (cmd === "message") [name, next] = ["message", "message"];
        else name = cmd;
      } else if (state === "parameter") {
        name = buf;
      } else if (state === "message") {
        if (!MESSAGE_ROLES.has(buf)) return fail('a MESSAGE role must be one of "system", "user", "assistant"');
        role = buf;
      } else if (state === "value") {
        const s = unquote(goTrimSpace(buf));
        // Spaces never end a value; a line end ends it only when the text so far is a complete value.
        if (s === null || isSpace(keep)) {
          buf += keep;
          continue;
        }
        commands.push({ name, args: role ? `${role}: ${s}` : s });
        role = "";
      }
      buf = "";
      state = next;
    }
    if (isPrint(keep)) buf += keep;
  }
  if (state === "value") {
    const s = unquote(goTrimSpace(buf));
    if (s === null) return fail("unexpected end of the file inside a quoted value");
    commands.push({ name, args: role ? `${role}: ${s}` : s });
  } else if (state !== "nil" && state !== "comment") {
    return fail("unexpected end of the file");
  }
  if (!commands.some((c) => c.name === "model")) throw new Error("Modelfile has no FROM line");
  return commands;
}

/** How a value may be written, in order of preference. */
export type ModelfileQuoting = "bare" | "quoted" | "triple";

/**
 * One Modelfile line, `KEYWORD value` (e.g. `modelfileLine("PARAMETER stop", '<|im_end|>')` gives
 * `PARAMETER stop "<|im_end|>"`), with the first quoting in `prefer` that Ollama's parser reads back as
 * exactly `value` (checked with {@link parseModelfile}; no escaping, see this file's header).
 * @param keyword the command and, for PARAMETER, its name, e.g. "TEMPLATE" or "PARAMETER stop".
 * @returns the line, without a line end.
 * @throws Error naming the keyword and value when no quoting carries it (a non-printable character other
 *   than tab and line ends, or a line that would end the value early such as one ending in `"""`).
 */
export function modelfileLine(keyword: string, value: string, prefer: readonly ModelfileQuoting[] = ["bare", "quoted", "triple"]): string {
  const [cmd, param] = keyword.split(" ") as [string, string | undefined];
  const expectedName = cmd.toLowerCase() === "from" ? "model" : (param ?? cmd.toLowerCase());
  for (const q of prefer) {
    const written = q === "bare" ? value : q === "quoted" ? `"${value}"` : `"""${value}"""`;
    const line = `${keyword} ${written}`;
    let parsed: ModelfileCommand[];
    try {
      parsed = parseModelfile(`FROM x\n${line}\n`);
    } catch {
      continue;
    }
    if (parsed.length === 2 && parsed[1]!.name === expectedName && parsed[1]!.args === value) return line;
  }
  throw new Error(
    `cannot write ${keyword} ${JSON.stringify(value)} in an Ollama Modelfile: its parser reads quoted values verbatim ` +
      "(no escapes) and drops non-printable characters, and no quoting (bare, \"...\", \"\"\"...\"\"\") reads back as this value",
  );
}
