package query

import (
	"strings"
	"unicode"
)

// Field names of Term.Field and Phrase.Field. The text fields (default,
// title, summary) hold folded words; the exact fields (source, lang, ref)
// hold one whole folded value each.
const (
	// FieldDefault searches title, summary, content and categories together.
	FieldDefault = ""
	FieldTitle   = "title"
	// FieldSummary searches the summary and the content of an item.
	FieldSummary = "summary"
	// FieldSource is the source id, compared whole (case-insensitive).
	FieldSource = "source"
	// FieldLang is the language code, compared whole (case-insensitive).
	FieldLang = "lang"
	// FieldRef is a policy reference, compared whole in NormalizeRef form.
	FieldRef = "ref"
)

// IsExactField reports whether a field is compared as one whole value
// (source, lang, ref) rather than word by word.
func IsExactField(field string) bool {
	return field == FieldSource || field == FieldLang || field == FieldRef
}

func knownField(name string) bool {
	switch name {
	case FieldTitle, FieldSummary, FieldSource, FieldLang, FieldRef:
		return true
	}
	return false
}

// Node is one node of a parsed query: And, Or, Not, Term or Phrase. Nodes are
// values; a tree returned by Query.Root belongs to the caller.
type Node interface{ isNode() }

// And matches when every child matches. It has at least two children, none
// of them an And.
type And struct{ Children []Node }

// Or matches when any child matches. It has at least two children, none of
// them an Or.
type Or struct{ Children []Node }

// Not matches when its child does not.
type Not struct{ Child Node }

// Term is one word, or one word prefix, in a field.
//
// In a text field Word is one folded word of letters and digits (see Tokens)
// and matches a whole word of the field, or the start of one when Prefix is
// set. In an exact field (see IsExactField) Word is the whole folded value
// (NormalizeRef form for ref) and matches the whole value, or its start when
// Prefix is set.
type Term struct {
	Field  string
	Word   string
	Prefix bool
}

// Phrase is two or more folded words that must follow each other, in order,
// within one field. Field is always a text field.
type Phrase struct {
	Field string
	Words []string
}

func (And) isNode()    {}
func (Or) isNode()     {}
func (Not) isNode()    {}
func (Term) isNode()   {}
func (Phrase) isNode() {}

// cloneNode returns a deep copy, so that callers of Root cannot change a
// Query shared between goroutines.
func cloneNode(n Node) Node {
	switch n := n.(type) {
	case And:
		return And{Children: cloneNodes(n.Children)}
	case Or:
		return Or{Children: cloneNodes(n.Children)}
	case Not:
		return Not{Child: cloneNode(n.Child)}
	case Phrase:
		return Phrase{Field: n.Field, Words: append([]string(nil), n.Words...)}
	default:
		return n
	}
}

func cloneNodes(ns []Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = cloneNode(n)
	}
	return out
}

// format writes the canonical form of a tree: explicit AND, parentheses
// wherever an OR or AND is nested, NOT spelled out, and a text field shared by
// every word of an AND or OR written once before the parentheses.
func format(n Node) string {
	var b strings.Builder
	writeNode(&b, n, true, false)
	return b.String()
}

// writeNode writes n. top says n needs no parentheses; inField says an
// enclosing field group already names the field.
func writeNode(b *strings.Builder, n Node, top, inField bool) {
	switch n := n.(type) {
	case And:
		writeGroup(b, n.Children, " AND ", top, inField)
	case Or:
		writeGroup(b, n.Children, " OR ", top, inField)
	case Not:
		b.WriteString("NOT ")
		writeNode(b, n.Child, false, inField)
	case Term:
		if !inField {
			writeField(b, n.Field)
		}
		if IsExactField(n.Field) && !bareValue(n.Word) {
			b.WriteByte('"')
			b.WriteString(n.Word)
			b.WriteByte('"')
		} else {
			b.WriteString(n.Word)
		}
		if n.Prefix {
			b.WriteByte('*')
		}
	case Phrase:
		if !inField {
			writeField(b, n.Field)
		}
		b.WriteByte('"')
		b.WriteString(strings.Join(n.Words, " "))
		b.WriteByte('"')
	}
}

func writeGroup(b *strings.Builder, kids []Node, sep string, top, inField bool) {
	if !inField {
		if f := sharedTextField(kids); f != "" {
			writeField(b, f)
			b.WriteByte('(')
			writeJoined(b, kids, sep, true)
			b.WriteByte(')')
			return
		}
	}
	if !top {
		b.WriteByte('(')
	}
	writeJoined(b, kids, sep, inField)
	if !top {
		b.WriteByte(')')
	}
}

func writeJoined(b *strings.Builder, kids []Node, sep string, inField bool) {
	for i, k := range kids {
		if i > 0 {
			b.WriteString(sep)
		}
		writeNode(b, k, false, inField)
	}
}

func writeField(b *strings.Builder, f string) {
	if f != FieldDefault {
		b.WriteString(f)
		b.WriteByte(':')
	}
}

// sharedTextField returns the title or summary field when every word under
// kids is in it, and "" otherwise. Exact fields are never grouped: their
// values are written right after their own colon, where no operator or field
// is recognized.
func sharedTextField(kids []Node) string {
	field := ""
	var walk func(n Node) bool
	walk = func(n Node) bool {
		var f string
		switch n := n.(type) {
		case And:
			for _, k := range n.Children {
				if !walk(k) {
					return false
				}
			}
			return true
		case Or:
			for _, k := range n.Children {
				if !walk(k) {
					return false
				}
			}
			return true
		case Not:
			return walk(n.Child)
		case Term:
			f = n.Field
		case Phrase:
			f = n.Field
		}
		if f != FieldTitle && f != FieldSummary {
			return false
		}
		if field == "" {
			field = f
		}
		return f == field
	}
	for _, k := range kids {
		if !walk(k) {
			return ""
		}
	}
	return field
}

// bareValue reports whether an exact-field value reads back unchanged when
// written without quotes right after its field's colon.
func bareValue(v string) bool {
	if v == "" || v[0] == '(' || v[0] == '-' {
		return false
	}
	depth := 0
	for _, r := range v {
		switch {
		case r == '"' || r == '*' || unicode.IsSpace(r):
			return false
		case r == '(':
			depth++
		case r == ')':
			if depth == 0 {
				return false
			}
			depth--
		}
	}
	return depth == 0
}
