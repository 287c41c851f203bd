package sources

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// maxRecoveries bounds how many breaks one body may have repaired; each
// costs a scan of the body.
const maxRecoveries = 64

// xmlBreak is the first place the markup of a body does not read, with
// what is open there.
type xmlBreak struct {
	offset   int64
	msg      string
	eof      bool       // the body ends inside the document
	stack    []xml.Name // elements open at the break
	items    int        // items started before the break, the open one included
	closed   int        // items complete before the break
	openItem int64      // offset of the start tag of the item open at the break, -1 when none
	openName xml.Name   // its name
	atItem   []xml.Name // elements open around that item
}

// findXMLBreak scans body as the feed parser reads it (not strict) and
// returns its first break, or nil when it reads to the end.
func findXMLBreak(body []byte) *xmlBreak {
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.Strict = false
	var (
		stack     []xml.Name
		items     int
		closed    int
		openItem  int64 = -1
		openName  xml.Name
		atItem    []xml.Name
		itemDepth int
	)
	for {
		before := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			if len(stack) == 0 {
				return nil
			}
			err = errors.New("unexpected EOF")
		}
		if err != nil {
			var se *xml.SyntaxError
			msg := err.Error()
			if errors.As(err, &se) {
				msg = se.Msg
			}
			return &xmlBreak{offset: dec.InputOffset(), msg: msg, eof: strings.Contains(msg, "unexpected EOF"),
				stack: stack, items: items, closed: closed, openItem: openItem, openName: openName, atItem: atItem}
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if openItem < 0 && (t.Name.Local == "item" || t.Name.Local == "entry") {
				// The start tag begins at the first "<" after the last token.
				openItem = before + int64(bytes.IndexByte(body[before:], '<'))
				openName = t.Name
				atItem = append([]xml.Name(nil), stack...)
				itemDepth = len(stack) + 1
				items++
			}
			stack = append(stack, t.Name)
		case xml.EndElement:
			// Not strict: an end tag closes the innermost element of its
			// name, and one that matches nothing is ignored.
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].Local == t.Name.Local && stack[i].Space == t.Name.Space {
					stack = stack[:i]
					break
				}
			}
			if openItem >= 0 && len(stack) < itemDepth {
				openItem = -1
				closed++
			}
		}
	}
}

// recoverXML repairs the breaks of a body the feed parser refused, one at
// a time from the first: an unescaped "<" in text is escaped, a character
// reference XML forbids is removed, an item whose markup breaks otherwise
// is cut out whole, and a body that ends inside an item loses that item
// and is closed after the last complete one. Each is told in rep, with the
// item's position; dropped lists the positions of the items cut out. ok is
// false when a break lies outside any item or there are too many.
func recoverXML(body []byte, rep *Report) (fixed []byte, dropped []int, ok bool) {
	b := body
	// original gives the position in body of the n-th item of b.
	// (dropped grows in document order, so it is sorted.)
	original := func(n int) int {
		pos := n
		for _, d := range dropped {
			if d <= pos {
				pos++
			}
		}
		return pos
	}
	swept := false
	for attempt := 0; attempt < maxRecoveries; attempt++ {
		br := findXMLBreak(b)
		if br == nil {
			return b, dropped, attempt > 0
		}
		if br.eof {
			cut, stack := int64(len(b)), br.stack
			if br.openItem >= 0 {
				cut, stack = br.openItem, br.atItem
				pos := original(br.items)
				rep.drop(pos, "cut off by the end of the body")
				dropped = append(dropped, pos)
			}
			rep.warn("feed truncated after item %d", original(br.closed))
			b = closeElements(b[:cut], stack)
			continue
		}
		if br.openItem < 0 {
			return nil, nil, false
		}
		pos := original(br.items)
		if !swept && (strings.HasPrefix(br.msg, "expected element name after <") || strings.HasPrefix(br.msg, "illegal character code")) {
			// A CMS that leaves one "<" unescaped or one Word control
			// character in often does so in every item: mend them all in
			// one pass rather than one scan of the body each.
			swept = true
			if r, n := sweepXML(b, rep, original); n > 0 {
				b = r
				continue
			}
		}
		if r, what := repairAt(b, br); r != nil {
			rep.repair(pos, "%s", what)
			b = r
			continue
		}
		end := itemEnd(b, br)
		if end < 0 {
			rep.drop(pos, "markup error (%s) and no end of the item", br.msg)
			dropped = append(dropped, pos)
			rep.warn("feed cut at item %d, whose markup does not end", pos)
			b = closeElements(b[:br.openItem], br.atItem)
			continue
		}
		rep.drop(pos, "markup error: %s", br.msg)
		dropped = append(dropped, pos)
		b = append(append([]byte(nil), b[:br.openItem]...), b[end:]...)
	}
	return nil, nil, false
}

// repairAt mends a break that is one character wide: an unescaped "<" in
// text, or a character (or a reference to one) that XML forbids.
func repairAt(b []byte, br *xmlBreak) ([]byte, string) {
	off := int(min(br.offset, int64(len(b))))
	switch {
	case strings.HasPrefix(br.msg, "expected element name after <"):
		for i := off - 1; i >= 0 && i >= off-3; i-- {
			if b[i] == '<' {
				return splice(b, i, i+1, "&lt;"), `an unescaped "<" read as text`
			}
		}
	case strings.HasPrefix(br.msg, "illegal character code"):
		// The decoder tells the break at the end of the text that holds it.
		lo := bytes.LastIndexByte(b[:off], '>') + 1
		for _, m := range charRef.FindAllSubmatchIndex(b[lo:off], -1) {
			if r, ok := charRefRune(b[lo+m[2] : lo+m[3]]); ok && !xmlChar(r) {
				return splice(b, lo+m[0], lo+m[1], ""), fmt.Sprintf("a reference to a character XML forbids (%U) removed", r)
			}
		}
		for i := lo; i < off; i++ {
			if b[i] < 0x20 && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
				return splice(b, i, i+1, ""), "a control character XML forbids removed"
			}
		}
	}
	return nil, ""
}

// sweepXML escapes every "<" of text that starts no markup and removes
// every reference to a character XML forbids, outside CDATA sections,
// comments and processing instructions, telling rep of each with its
// item's position (original maps an item's number in b to its position).
// It returns the mended body and how many it mended.
func sweepXML(b []byte, rep *Report, original func(int) int) ([]byte, int) {
	out := make([]byte, 0, len(b)+64)
	items, n := 0, 0
	for i := 0; i < len(b); {
		c := b[i]
		rest := b[i:]
		switch {
		case c == '<' && bytes.HasPrefix(rest, []byte("<![CDATA[")):
			end := skipTo(rest, 9, "]]>")
			out = append(out, rest[:end]...)
			i += end
		case c == '<' && bytes.HasPrefix(rest, []byte("<!--")):
			end := skipTo(rest, 4, "-->")
			out = append(out, rest[:end]...)
			i += end
		case c == '<' && bytes.HasPrefix(rest, []byte("<?")):
			end := skipTo(rest, 2, "?>")
			out = append(out, rest[:end]...)
			i += end
		case c == '<' && len(rest) > 1 && (xmlNameStart(rest[1]) || rest[1] == '/' || rest[1] == '!'):
			if isItemStart(rest) {
				items++
			}
			out = append(out, c)
			i++
		case c == '<':
			out = append(out, "&lt;"...)
			rep.repair(original(items), `an unescaped "<" read as text`)
			n++
			i++
		case c == '&' && len(rest) > 2 && rest[1] == '#':
			if m := charRef.FindSubmatchIndex(rest[:min(len(rest), 16)]); m != nil && m[0] == 0 {
				if r, ok := charRefRune(rest[m[2]:m[3]]); ok && !xmlChar(r) {
					rep.repair(original(items), "a reference to a character XML forbids (%U) removed", r)
					n++
					i += m[1]
					continue
				}
			}
			out = append(out, c)
			i++
		default:
			out = append(out, c)
			i++
		}
	}
	return out, n
}

// skipTo is the offset just after the first end after from in b, or len(b).
func skipTo(b []byte, from int, end string) int {
	if k := bytes.Index(b[from:], []byte(end)); k >= 0 {
		return from + k + len(end)
	}
	return len(b)
}

// isItemStart reports a start tag of an item or entry, prefixed or not.
func isItemStart(b []byte) bool {
	name := b[1:]
	if i := bytes.IndexAny(name, " \t\r\n/>"); i >= 0 {
		name = name[:i]
	}
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return string(name) == "item" || string(name) == "entry"
}

var charRef = regexp.MustCompile(`&#([xX][0-9a-fA-F]{1,8}|[0-9]{1,10});`)

// charRefRune reads the number of a character reference.
func charRefRune(num []byte) (rune, bool) {
	base, digits := 10, string(num)
	if digits[0] == 'x' || digits[0] == 'X' {
		base, digits = 16, digits[1:]
	}
	n, err := strconv.ParseUint(digits, base, 32)
	return rune(n), err == nil
}

// xmlChar reports a character XML 1.0 allows (its production Char).
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0a || r == 0x0d || r >= 0x20 && r <= 0xd7ff ||
		r >= 0xe000 && r <= 0xfffd || r >= 0x10000 && r <= 0x10ffff
}

func splice(b []byte, from, to int, with string) []byte {
	out := make([]byte, 0, len(b)+len(with))
	out = append(out, b[:from]...)
	out = append(out, with...)
	return append(out, b[to:]...)
}

// itemEnd is the offset just after the end tag of the item open at the
// break, or -1.
func itemEnd(b []byte, br *xmlBreak) int {
	tag := "</" + br.openName.Local + ">"
	if br.openName.Space != "" {
		tag = "</" + br.openName.Space + ":" + br.openName.Local + ">"
	}
	from := int(min(br.offset, int64(len(b))))
	i := bytes.Index(b[from:], []byte(tag))
	if i < 0 {
		return -1
	}
	return from + i + len(tag)
}

// closeElements ends b with the end tags of the elements of stack.
func closeElements(b []byte, stack []xml.Name) []byte {
	out := append([]byte(nil), b...)
	out = append(out, '\n')
	for i := len(stack) - 1; i >= 0; i-- {
		out = append(out, "</"...)
		if stack[i].Space != "" {
			out = append(out, stack[i].Space...)
			out = append(out, ':')
		}
		out = append(out, stack[i].Local...)
		out = append(out, '>')
	}
	return out
}
