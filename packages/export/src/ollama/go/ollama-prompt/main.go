// Command ollama-prompt renders chat prompts from Modelfiles the way Ollama does, with Go's real
// text/template, for ortrl's Modelfile tests (modelfile.test.ts). It is a test helper, not part of the
// package: it mirrors, in its own code, the parts of Ollama that turn a Modelfile and a chat request
// into a prompt:
//
//   - parser/parser.go ParseFile: commands, "#" comments, bare / "quoted" / """triple-quoted""" values
//     read verbatim (no escape sequences), non-printable characters other than tab and line ends
//     dropped, a value ending at the first line end where the text so far is a complete value;
//   - server/routes.go (chat): the Modelfile's SYSTEM goes first as a system message when the request's
//     first message is not a system message;
//   - template/template.go: templates parsed with missingkey=zero and a "json" function; messages
//     collated (consecutive messages of one role joined by a blank line, .System = every system
//     message joined by a blank line); a template that names Messages gets
//     {System, Messages, Tools, Response: ""}; otherwise (the legacy path) one system + user turn is
//     rendered with {System, Prompt, Response: ""} (more turns are not supported here).
//
// Input on stdin: {"cases": [{"modelfile": "...", "messages": [{"role": "...", "content": "..."}]}]}
// (without "messages", a case is only parsed).
// Output on stdout: one JSON array with, per case, {"commands": [{"name", "args"}], "prompt"} or
// {"error"}.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"
)

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Command struct {
	Name string `json:"name"`
	Args string `json:"args"`
}

type Case struct {
	Modelfile string    `json:"modelfile"`
	Messages  []Message `json:"messages"`
}

type Result struct {
	Commands []Command `json:"commands"`
	Prompt   string    `json:"prompt"`
	Error    string    `json:"error,omitempty"`
}

const (
	stNil = iota
	stName
	stValue
	stParameter
	stMessage
	stComment
)

func isSpace(r rune) bool   { return r == ' ' || r == '\t' }
func isNewline(r rune) bool { return r == '\n' || r == '\r' }
func isAlpha(r rune) bool   { return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') }

// unquote strips """...""" or "..." (verbatim inside); ok is false while a quote is still open.
func unquote(s string) (string, bool) {
	if strings.HasPrefix(s, `"""`) {
		if len(s) >= 6 && strings.HasSuffix(s, `"""`) {
			return s[3 : len(s)-3], true
		}
		return "", false
	}
	if strings.HasPrefix(s, `"`) {
		if len(s) >= 2 && strings.HasSuffix(s, `"`) {
			return s[1 : len(s)-1], true
		}
		return "", false
	}
	return s, true
}

func parseModelfile(text string) ([]Command, error) {
	var cmds []Command
	var buf strings.Builder
	state := stNil
	name, role := "", ""
	line := 1
	for _, r := range strings.TrimPrefix(text, "\ufeff") {
		if isNewline(r) {
			line++
		}
		next, keep := state, r
		switch state {
		case stNil:
			if r == '#' {
				next, keep = stComment, 0
			} else if isSpace(r) || isNewline(r) {
				keep = 0
			} else {
				next = stName
			}
		case stName:
			if isSpace(r) {
				next, keep = stValue, 0
			} else if !isAlpha(r) {
				return nil, fmt.Errorf("line %d: invalid command", line)
			}
		case stValue:
			if isSpace(r) || isNewline(r) {
				next = stNil
			}
		case stParameter:
			if isSpace(r) {
				next, keep = stValue, 0
			} else if !isAlpha(r) && !(r >= '0' && r <= '9') && r != '_' {
				return nil, fmt.Errorf("line %d: bad parameter name", line)
			}
		case stMessage:
			if isSpace(r) {
				next, keep = stValue, 0
			} else if !isAlpha(r) {
				return nil, fmt.Errorf("line %d: bad message role", line)
			}
		case stComment:
			keep = 0
			if isNewline(r) {
				next = stNil
			}
		}
		if next != state {
			switch state {
			case stName:
				switch word := strings.ToLower(buf.String()); word {
				case "from":
					name = "model"
				case "parameter":
					next = stParameter
				case "message":
					name, next = word, stMessage
				case "license", "template", "system", "adapter", "draft", "renderer", "parser", "requires":
					name = word
				default:
					return nil, fmt.Errorf("line %d: unknown command %q", line, buf.String())
				}
			case stParameter:
				name = buf.String()
			case stMessage:
				role = buf.String()
				if role != "system" && role != "user" && role != "assistant" {
					return nil, fmt.Errorf("line %d: bad message role %q", line, role)
				}
			case stValue:
				v, ok := unquote(strings.TrimSpace(buf.String()))
				if !ok || isSpace(keep) {
					buf.WriteRune(keep)
					continue
				}
				if role != "" {
					v, role = role+": "+v, ""
				}
				cmds = append(cmds, Command{name, v})
			}
			buf.Reset()
			state = next
		}
		if keep != 0 && unicode.IsPrint(keep) {
			buf.WriteRune(keep)
		}
	}
	switch state {
	case stNil, stComment:
	case stValue:
		v, ok := unquote(strings.TrimSpace(buf.String()))
		if !ok {
			return nil, errors.New("unexpected end of file in a quoted value")
		}
		if role != "" {
			v = role + ": " + v
		}
		cmds = append(cmds, Command{name, v})
	default:
		return nil, errors.New("unexpected end of file")
	}
	for _, c := range cmds {
		if c.Name == "model" {
			return cmds, nil
		}
	}
	return nil, errors.New("no FROM line")
}

// identifiers lists the lower-cased field and variable names a template uses.
func identifiers(n parse.Node, out map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				identifiers(c, out)
			}
		}
	case *parse.ActionNode:
		identifiers(n.Pipe, out)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			identifiers(n.Pipe, out)
		}
	case *parse.IfNode:
		identifiers(&n.BranchNode, out)
	case *parse.RangeNode:
		identifiers(&n.BranchNode, out)
	case *parse.WithNode:
		identifiers(&n.BranchNode, out)
	case *parse.BranchNode:
		identifiers(n.Pipe, out)
		identifiers(n.List, out)
		if n.ElseList != nil {
			identifiers(n.ElseList, out)
		}
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				identifiers(a, out)
			}
		}
	case *parse.FieldNode:
		for _, id := range n.Ident {
			out[strings.ToLower(id)] = true
		}
	case *parse.VariableNode:
		for _, id := range n.Ident {
			out[strings.ToLower(id)] = true
		}
	}
}

func render(c Case) (Result, error) {
	cmds, err := parseModelfile(c.Modelfile)
	if err != nil {
		return Result{}, err
	}
	if c.Messages == nil {
		return Result{Commands: cmds}, nil
	}
	text, system := "{{ .Prompt }}", ""
	for _, cmd := range cmds {
		switch cmd.Name {
		case "template":
			text = cmd.Args
		case "system":
			system = cmd.Args
		}
	}
	msgs := append([]Message(nil), c.Messages...)
	if len(msgs) > 0 && msgs[0].Role != "system" && system != "" {
		msgs = append([]Message{{Role: "system", Content: system}}, msgs...)
	}
	var systems []string
	var collated []*Message
	for i := range msgs {
		m := msgs[i]
		if m.Role == "system" {
			systems = append(systems, m.Content)
		}
		if k := len(collated); k > 0 && collated[k-1].Role == m.Role && m.Role != "tool" {
			collated[k-1].Content += "\n\n" + m.Content
		} else {
			collated = append(collated, &m)
		}
	}
	funcs := template.FuncMap{"json": func(v any) string { b, _ := json.Marshal(v); return string(b) }}
	tmpl, err := template.New("").Option("missingkey=zero").Funcs(funcs).Parse(text)
	if err != nil {
		return Result{}, err
	}
	vars := map[string]bool{}
	identifiers(tmpl.Tree.Root, vars)
	var out strings.Builder
	if vars["messages"] {
		err = tmpl.Execute(&out, map[string]any{
			"System": strings.Join(systems, "\n\n"), "Messages": collated, "Tools": []any(nil), "Response": "",
		})
	} else {
		legacySystem, prompt, turns := "", "", 0
		for _, m := range collated {
			switch m.Role {
			case "system":
				legacySystem = m.Content
			case "user":
				prompt = m.Content
				turns++
			default:
				turns += 2
			}
		}
		if turns != 1 {
			return Result{}, errors.New("legacy (no .Messages) templates: only one system + user turn is supported by this helper")
		}
		err = tmpl.Execute(&out, map[string]any{"System": legacySystem, "Prompt": prompt, "Response": ""})
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Commands: cmds, Prompt: out.String()}, nil
}

func main() {
	var in struct {
		Cases []Case `json:"cases"`
	}
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "ollama-prompt: bad input:", err)
		os.Exit(2)
	}
	results := make([]Result, len(in.Cases))
	for i, c := range in.Cases {
		r, err := render(c)
		if err != nil {
			r = Result{Error: err.Error()}
		}
		results[i] = r
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "ollama-prompt:", err)
		os.Exit(1)
	}
}
