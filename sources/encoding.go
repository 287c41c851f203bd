package sources

import (
	"bytes"
	"fmt"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
	"golang.org/x/text/transform"
)

// bodyEncoding is how the bytes of a feed are to be read, and what said so.
type bodyEncoding struct {
	name  string // "utf-8", "utf-16le", "windows-1252", …
	from  string // "BOM", "byte pattern", "Content-Type", "XML declaration", "default"
	enc   encoding.Encoding
	label string // the label as written, when one was used
	bom   int    // bytes of byte order mark to skip
}

// detectEncoding chooses the encoding of an XML or JSON body in the order
// RFC 7303 §3 gives for XML media types: a byte order mark first; then
// the charset parameter of the Content-Type header; then the encoding
// declaration of the XML declaration (read with the byte patterns of
// XML 1.0 Appendix F, which also tell UTF-16 and UTF-32 without a BOM);
// then UTF-8 (RFC 3023, which RFC 7303 replaced, put the charset before
// the BOM). Labels are looked up as the WHATWG Encoding Standard does,
// so ISO-8859-1, Latin-1 and US-ASCII are read as windows-1252, of which
// they are subsets everywhere but in the C1 controls no feed means.
func detectEncoding(body []byte, contentType string) bodyEncoding {
	switch {
	case bytes.HasPrefix(body, []byte{0xef, 0xbb, 0xbf}):
		return bodyEncoding{name: "utf-8", from: "BOM", bom: 3}
	case bytes.HasPrefix(body, []byte{0xff, 0xfe, 0, 0}):
		return bodyEncoding{name: "utf-32le", from: "BOM", bom: 4, enc: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)}
	case bytes.HasPrefix(body, []byte{0, 0, 0xfe, 0xff}):
		return bodyEncoding{name: "utf-32be", from: "BOM", bom: 4, enc: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)}
	case bytes.HasPrefix(body, []byte{0xff, 0xfe}):
		return bodyEncoding{name: "utf-16le", from: "BOM", bom: 2, enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)}
	case bytes.HasPrefix(body, []byte{0xfe, 0xff}):
		return bodyEncoding{name: "utf-16be", from: "BOM", bom: 2, enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)}
	}
	// Without a BOM, the first characters of a document ("<?xml", "<rss",
	// "{") are ASCII, and zero bytes around them give the width and order
	// of a UTF-16 or UTF-32 encoding (Appendix F.1). No label can make
	// such bytes ASCII-compatible text, so the pattern wins over one.
	if len(body) >= 4 {
		b := body[:4]
		switch {
		case b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] != 0:
			return bodyEncoding{name: "utf-32be", from: "byte pattern", enc: utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)}
		case b[0] != 0 && b[1] == 0 && b[2] == 0 && b[3] == 0:
			return bodyEncoding{name: "utf-32le", from: "byte pattern", enc: utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)}
		case b[0] == 0 && b[1] != 0 && b[2] == 0 && b[3] != 0:
			return bodyEncoding{name: "utf-16be", from: "byte pattern", enc: unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)}
		case b[0] != 0 && b[1] == 0 && b[2] != 0 && b[3] == 0:
			return bodyEncoding{name: "utf-16le", from: "byte pattern", enc: unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)}
		}
	}
	if label := contentTypeCharset(contentType); label != "" {
		if e, ok := lookupEncoding(label, "Content-Type"); ok {
			if singleByte(e.name) && utf8.Valid(body) && hasMultibyte(body) {
				// Servers set a default charset (Apache's ISO-8859-1) on
				// feeds their CMS writes in UTF-8. Text in a single-byte
				// encoding is valid UTF-8 with multi-byte sequences
				// only by a coincidence no real text makes.
				return bodyEncoding{name: "utf-8", from: fromUTF8Bytes, label: label}
			}
			return e
		}
	}
	if m := xmlEncodingDecl.FindSubmatch(body[:min(len(body), 512)]); m != nil {
		if e, ok := lookupEncoding(string(m[1]), "XML declaration"); ok {
			return e
		}
	}
	return bodyEncoding{name: "utf-8", from: "default"}
}

// fromUTF8Bytes says a body was read as the UTF-8 it is, against a
// single-byte charset in its Content-Type.
const fromUTF8Bytes = "bytes"

var xmlEncodingDecl = regexp.MustCompile(`^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']+)["']`)

// contentTypeCharset is the charset parameter of a Content-Type header.
func contentTypeCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// "text/xml; charset=utf-8;" and other near-misses still name one.
		i := strings.Index(strings.ToLower(contentType), "charset=")
		if i < 0 {
			return ""
		}
		v := contentType[i+len("charset="):]
		if j := strings.IndexAny(v, "; "); j >= 0 {
			v = v[:j]
		}
		return strings.Trim(v, `"'`)
	}
	return params["charset"]
}

// lookupEncoding resolves a label. UTF-16 and UTF-32 labels reach here
// only when the bytes did not show them, so they are not trusted (a
// document whose first bytes are ASCII is not UTF-16, whatever it says).
func lookupEncoding(label, from string) (bodyEncoding, bool) {
	l := strings.ToLower(strings.TrimSpace(label))
	switch {
	case l == "":
		return bodyEncoding{}, false
	case strings.HasPrefix(l, "utf-16"), strings.HasPrefix(l, "utf-32"), l == "ucs-2", l == "ucs-4", l == "unicode":
		return bodyEncoding{}, false
	}
	enc, name := charset.Lookup(l)
	if enc == nil {
		return bodyEncoding{}, false
	}
	if name == "utf-8" {
		return bodyEncoding{name: name, from: from, label: label}, true
	}
	return bodyEncoding{name: name, from: from, enc: enc, label: label}, true
}

// decodeBody turns a feed body into UTF-8, with the encoding detectEncoding
// chooses, and says what it repaired. Bytes that are not UTF-8 in a body
// read as UTF-8 are read one by one as windows-1252, which is what the
// smart quotes, pound and euro signs of old CMSs are; valid sequences
// around them stay as they are. The XML declaration of the result says
// UTF-8, so that the XML decoder does not convert it a second time.
func decodeBody(body []byte, contentType string) ([]byte, []string) {
	e := detectEncoding(body, contentType)
	var repairs []string
	out := body[e.bom:]
	if e.enc != nil {
		if e.name == "windows-1252" && hasC1(out) && !strings.Contains(e.label, "1252") {
			repairs = append(repairs, fmt.Sprintf("bytes 0x80-0x9F of a body labelled %s read as windows-1252 (curly quotes, dashes, euro)", e.label))
		}
		if dec, _, err := transform.Bytes(e.enc.NewDecoder(), out); err == nil {
			out = dec
		}
	}
	if e.from == fromUTF8Bytes {
		repairs = append(repairs, fmt.Sprintf("read as UTF-8, which the bytes are, not as %s, as the Content-Type says", e.label))
	}
	if e.from == "Content-Type" {
		if m := xmlEncodingDecl.FindSubmatch(out[:min(len(out), 512)]); m != nil {
			if d, ok := lookupEncoding(string(m[1]), ""); ok && d.name != e.name {
				repairs = append(repairs, fmt.Sprintf("read as %s, as the Content-Type says, not as %s, as the XML declaration says", e.name, d.name))
			}
		}
	}
	if e.enc == nil && !utf8.Valid(out) {
		var n int
		out, n = windows1252Fallback(out)
		repairs = append(repairs, fmt.Sprintf("%d bytes that are not UTF-8 read as windows-1252", n))
	}
	if e.enc != nil || e.bom > 0 {
		out = declareUTF8(out)
	} else if m := xmlEncodingDecl.FindSubmatchIndex(out[:min(len(out), 512)]); m != nil {
		if l := strings.ToLower(string(out[m[2]:m[3]])); l != "utf-8" && l != "utf8" {
			out = declareUTF8(out)
		}
	}
	return out, repairs
}

// windows1252Fallback keeps the valid UTF-8 of b and reads every byte that
// is not part of a valid sequence as windows-1252. It returns how many
// bytes it read so.
func windows1252Fallback(b []byte) ([]byte, int) {
	out := make([]byte, 0, len(b)+len(b)/8)
	n := 0
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			out = utf8.AppendRune(out, charmap.Windows1252.DecodeByte(b[i]))
			n++
			i++
			continue
		}
		out = append(out, b[i:i+size]...)
		i += size
	}
	return out, n
}

// singleByte reports the single-byte encodings of WHATWG names.
func singleByte(name string) bool {
	return strings.HasPrefix(name, "windows-125") || strings.HasPrefix(name, "iso-8859-") ||
		strings.HasPrefix(name, "koi8-") || name == "macintosh" || name == "ibm866"
}

// hasMultibyte reports a byte of a multi-byte UTF-8 sequence.
func hasMultibyte(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// hasC1 reports bytes 0x80-0x9F, which windows-1252 reads as printable
// characters and ISO-8859-1 as controls.
func hasC1(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 && c <= 0x9f {
			return true
		}
	}
	return false
}

// declareUTF8 rewrites the encoding of an XML declaration to UTF-8.
func declareUTF8(b []byte) []byte {
	m := xmlEncodingDecl.FindSubmatchIndex(b[:min(len(b), 512)])
	if m == nil {
		return b
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:m[2]]...)
	out = append(out, "UTF-8"...)
	return append(out, b[m[3]:]...)
}
