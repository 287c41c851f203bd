package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// SourceYAML writes a source as one item of the sources list, indented
// for its place under "sources:" ("  - id: ..."), with the keys a user
// writes by hand and nothing the defaults already give. comment, when set,
// goes on a line of its own above the item.
func SourceYAML(s Source, comment string) string {
	var b strings.Builder
	if comment != "" {
		for _, line := range strings.Split(comment, "\n") {
			b.WriteString("  # " + line + "\n")
		}
	}
	field := func(indent, key, val string) {
		if val != "" {
			fmt.Fprintf(&b, "%s%s: %s\n", indent, key, yamlScalar(val))
		}
	}
	fmt.Fprintf(&b, "  - id: %s\n", yamlScalar(s.ID))
	field("    ", "name", s.Name)
	if s.Type != "" && s.Type != TypeFeed {
		field("    ", "type", s.Type)
	}
	field("    ", "url", s.URL)
	field("    ", "language", s.Language)
	field("    ", "schedule", s.Schedule)
	if h := s.HTML; h != nil && s.Type == TypeHTML {
		b.WriteString("    html:\n")
		field("      ", "item", h.Item)
		field("      ", "title", h.Title)
		field("      ", "link", h.Link)
		field("      ", "date", h.Date)
		field("      ", "date_format", h.DateFormat)
		field("      ", "summary", h.Summary)
	}
	if j := s.JSON; j != nil && s.Type == TypeJSON {
		b.WriteString("    json:\n")
		fmt.Fprintf(&b, "      items: %s\n", yamlScalar(j.Items))
		field("      ", "title", j.Title)
		field("      ", "link", j.Link)
		field("      ", "base_url", j.BaseURL)
		field("      ", "date", j.Date)
		field("      ", "date_format", j.DateFormat)
		field("      ", "summary", j.Summary)
		field("      ", "guid", j.GUID)
	}
	return b.String()
}

// yamlScalar quotes a value when YAML would read it as something else
// than the plain string (selectors, "@every", "#", ": ", numbers, "").
func yamlScalar(s string) string {
	var n yaml.Node
	plain := s != "" && !strings.Contains(s, ": ") && !strings.Contains(s, " #") && !strings.HasSuffix(s, ":") &&
		!strings.ContainsAny(s[:1], "#&*!|>'\"%@`{}[],?-: ") && strings.TrimSpace(s) == s
	if plain && yaml.Unmarshal([]byte(s), &n) == nil && len(n.Content) == 1 && n.Content[0].Tag == "!!str" && n.Content[0].Value == s {
		return s
	}
	return strconv.Quote(s)
}

// AppendSource adds one source item, written as SourceYAML writes it, at
// the end of the sources list of the config file at path. Everything else
// in the file, comments and layout included, stays byte for byte as it
// was. A file without a sources key gets one at its end.
func AppendSource(path, item string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	out, err := appendSource(data, item)
	if err != nil {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, info.Mode().Perm()); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func appendSource(data []byte, item string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the file is not valid YAML: %w", err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	if len(doc.Content) == 0 {
		return []byte(string(data) + "sources:\n" + item), nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errors.New("the top level is not a mapping")
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "sources" {
			continue
		}
		if isNull(v) {
			// "sources:" with nothing under it: the items go right below the key.
			return insertAfterLine(lines, k.Line, item), nil
		}
		if v.Kind != yaml.SequenceNode || v.Style&yaml.FlowStyle != 0 {
			return nil, fmt.Errorf("line %d: sources is not a block list; add the source by hand", v.Line)
		}
		end := len(lines)
		if i+2 < len(root.Content) {
			end = root.Content[i+2].Line - 1
		}
		// Blank lines and comments at the left margin before the next key
		// belong to that key.
		for end > v.Line && (strings.TrimSpace(lines[end-1]) == "" || strings.HasPrefix(lines[end-1], "#")) {
			end--
		}
		indent, gap := itemIndent(lines, v)
		return insertAfterLine(lines, end, reindent(item, indent, gap)), nil
	}
	text := string(data)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	return []byte(text + "sources:\n" + item), nil
}

// itemIndent is the indentation of the "-" of the list's first item and
// the spaces between the "-" and the item's first key.
func itemIndent(lines []string, seq *yaml.Node) (indent, gap string) {
	indent, gap = "  ", " "
	if len(seq.Content) == 0 || seq.Content[0].Line < 1 || seq.Content[0].Line > len(lines) {
		return indent, gap
	}
	line := lines[seq.Content[0].Line-1]
	i := strings.IndexByte(line, '-')
	if i < 0 || strings.TrimSpace(line[:i]) != "" {
		return indent, gap
	}
	rest := line[i+1:]
	g := len(rest) - len(strings.TrimLeft(rest, " "))
	if g < 1 || strings.TrimSpace(rest) == "" {
		g = 1
	}
	return line[:i], strings.Repeat(" ", g)
}

// reindent moves an item written as SourceYAML writes it ("  - key",
// nested keys two spaces deeper each) to the list's own indentation.
func reindent(item, indent, gap string) string {
	if indent == "  " && gap == " " {
		return item
	}
	content := indent + " " + gap // where the item's keys start
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(item, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		lead := len(line) - len(trimmed)
		switch {
		case line == "":
		case strings.HasPrefix(trimmed, "#"):
			b.WriteString(indent + trimmed)
		case strings.HasPrefix(trimmed, "- "):
			b.WriteString(indent + "-" + gap + strings.TrimPrefix(trimmed, "- "))
		default:
			b.WriteString(content + strings.Repeat(" ", max(lead-4, 0)) + trimmed)
		}
	}
	return b.String()
}

// insertAfterLine puts text after the n-th line (1-based) of lines.
func insertAfterLine(lines []string, n int, text string) []byte {
	var b bytes.Buffer
	for i, line := range lines {
		if i == n {
			b.WriteString(text)
		}
		b.WriteString(line)
		if i == n-1 && !strings.HasSuffix(line, "\n") {
			b.WriteString("\n")
		}
	}
	if n >= len(lines) {
		b.WriteString(text)
	}
	return b.Bytes()
}
