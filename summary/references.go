package summary

import (
	"regexp"
	"sort"
	"strings"
)

// referencePattern finds one kind of policy reference and writes it in its
// normal form.
type referencePattern struct {
	// mayMatch is a cheap test that text could hold a match at all; most
	// texts hold none, and skipping the regexp there halves the cost of
	// archiving an item.
	mayMatch  func(text string) bool
	re        *regexp.Regexp
	normalize func(m []string) string
}

func containsAny(subs ...string) func(string) bool { return anyString(strings.Contains, subs) }

// anyString returns a test of whether has(text, sub) for one of subs.
func anyString(has func(text, sub string) bool, subs []string) func(string) bool {
	return func(text string) bool {
		for _, s := range subs {
			if has(text, s) {
				return true
			}
		}
		return false
	}
}

// digitThenUpper reports whether a digit is followed by an upper-case
// letter somewhere, as in a CELEX number (32022R2065).
func digitThenUpper(text string) bool {
	for i := 1; i < len(text); i++ {
		if c := text[i]; c >= 'A' && c <= 'Z' && text[i-1] >= '0' && text[i-1] <= '9' {
			return true
		}
	}
	return false
}

// somewhere returns a test of whether at some occurrence of sep in a text,
// at reports true of the text before and after it.
func somewhere(sep string, at func(before, after string) bool) func(string) bool {
	return func(text string) bool {
		for off := 0; ; {
			i := strings.Index(text[off:], sep)
			if i < 0 {
				return false
			}
			i += off
			if at(text[:i], text[i+len(sep):]) {
				return true
			}
			off = i + 1
		}
	}
}

// parenThen returns a test of whether some "(" in a text, and the white
// space after it, is followed by what next accepts.
func parenThen(next func(rest string) bool) func(string) bool {
	return somewhere("(", func(_, after string) bool {
		return next(strings.TrimLeft(after, regexpSpace))
	})
}

// regexpSpace is what \s matches.
const regexpSpace = "\t\n\f\r "

// codeSlashDigit returns a test of whether one of codes, a slash and a
// digit follow each other somewhere, as in IP/26/301.
func codeSlashDigit(codes ...string) func(string) bool {
	return somewhere("/", func(before, after string) bool {
		if after == "" || !isDigit(after[0]) {
			return false
		}
		for _, c := range codes {
			if strings.HasSuffix(before, c) {
				return true
			}
		}
		return false
	})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

// councilNumber reports whether "ST", white space and a digit follow each
// other somewhere, as in ST 11406/22.
var councilNumber = somewhere("ST", func(_, after string) bool {
	rest := strings.TrimLeft(after, regexpSpace)
	return len(rest) < len(after) && rest != "" && isDigit(rest[0])
})

// The year in every pattern is 19xx or 20xx, which is what keeps plain dates,
// phone numbers and amounts out.
var referencePatterns = []referencePattern{
	// Interinstitutional procedure: 2023/0212(COD), 2022/2048(INI).
	{
		mayMatch: parenThen(func(s string) bool { return len(s) >= 3 && isUpper(s[0]) && isUpper(s[1]) && isUpper(s[2]) }),
		re:       regexp.MustCompile(`\b((?:19|20)\d{2})\s*/\s*(\d{4})\s*\(\s*(COD|CNS|NLE|APP|INI|INL|BUD|DEC|RSP|DCE|REG|IMM|RPS|DEA|ACI|AVC|SYN|COS|CNC|ITS|INS|RSO|BUI)\s*\)`),
		normalize: func(m []string) string {
			return m[1] + "/" + m[2] + "(" + m[3] + ")"
		},
	},
	// Commission documents: COM(2023) 123 final, SWD(2023) 45, C(2023) 123,
	// JOIN(2023) 1, and the ELI-like COM/2023/123 final.
	{
		mayMatch: parenThen(func(s string) bool { return strings.HasPrefix(s, "19") || strings.HasPrefix(s, "20") }),
		re:       regexp.MustCompile(`\b(COM|SWD|SEC|JOIN|C)\s*\(\s*((?:19|20)\d{2})\s*\)\s*(\d{1,5})\b(\s+final\b)?`),
		normalize: func(m []string) string {
			return m[1] + "(" + m[2] + ") " + trimZeros(m[3]) + finalSuffix(m[4])
		},
	},
	{
		mayMatch: codeSlashDigit("COM", "SWD", "SEC", "JOIN"),
		re:       regexp.MustCompile(`\b(COM|SWD|SEC|JOIN)/((?:19|20)\d{2})/(\d{1,5})\b(\s+final\b)?`),
		normalize: func(m []string) string {
			return m[1] + "(" + m[2] + ") " + trimZeros(m[3]) + finalSuffix(m[4])
		},
	},
	// Council documents: ST 11406/22, ST 11406/22 REV 1.
	{
		mayMatch: councilNumber,
		re:       regexp.MustCompile(`\bST\s+(\d{4,5})/(\d{2})\b(?:\s+(REV|COR|ADD)\s+(\d{1,2})\b)?`),
		normalize: func(m []string) string {
			s := "ST " + m[1] + "/" + m[2]
			if m[3] != "" {
				s += " " + m[3] + " " + m[4]
			}
			return s
		},
	},
	// CELEX numbers: sector, year, document type, number; consolidated
	// versions carry a date.
	{
		mayMatch: digitThenUpper,
		re:       regexp.MustCompile(`\b([0-9CE])((?:19|20)\d{2})([A-Z]{1,2})(\d{4})(-\d{8})?\b`),
		normalize: func(m []string) string {
			return m[1] + m[2] + m[3] + m[4] + m[5]
		},
	},
	// Commission press material: IP/26/301, STATEMENT/26/2001, and the
	// presscorner link form statement_26_2001.
	{
		mayMatch: codeSlashDigit("IP", "STATEMENT", "MEMO", "SPEECH", "QANDA", "MEX", "AC"),
		re:       regexp.MustCompile(`\b(IP|STATEMENT|MEMO|SPEECH|QANDA|MEX|AC)/(\d{2})/(\d{1,5})\b`),
		normalize: func(m []string) string {
			return m[1] + "/" + m[2] + "/" + m[3]
		},
	},
	{
		mayMatch: containsAny("/detail/", "/api/documents/"),
		re:       regexp.MustCompile(`/(?:detail|api/documents)/[a-z]{2}/(ip|statement|memo|speech|qanda|mex|ac)_(\d{2})_(\d{1,5})\b`),
		normalize: func(m []string) string {
			return strings.ToUpper(m[1]) + "/" + m[2] + "/" + m[3]
		},
	},
}

// trimZeros drops the leading zeros of a document number ("0123" is 123).
func trimZeros(n string) string {
	if t := strings.TrimLeft(n, "0"); t != "" {
		return t
	}
	return "0"
}

func finalSuffix(s string) string {
	if strings.TrimSpace(s) != "" {
		return " final"
	}
	return ""
}

// References returns the policy references in text, normalized (single
// spaces, canonical spelling), without duplicates, in order of appearance:
// procedure numbers (2023/0212(COD)), Commission documents (COM(2023) 123
// final, SWD, SEC, C, JOIN), Council documents (ST 11406/22 REV 1), CELEX
// numbers (32022R2065) and press codes (IP/26/301, STATEMENT/26/2001).
// A link may be passed too, once its percent-escapes are decoded.
func References(text string) []string { return findReferences(text, true) }

// findReferences is References, with the cheap tests in front of the
// regexps or without them.
func findReferences(text string, cheapTests bool) []string {
	type hit struct {
		start, end int
		ref        string
	}
	var hits []hit
	for _, p := range referencePatterns {
		if cheapTests && !p.mayMatch(text) {
			continue
		}
		for _, loc := range p.re.FindAllStringSubmatchIndex(text, -1) {
			m := make([]string, len(loc)/2)
			for k := range m {
				if loc[2*k] >= 0 {
					m[k] = text[loc[2*k]:loc[2*k+1]]
				}
			}
			hits = append(hits, hit{start: loc[0], end: loc[1], ref: p.normalize(m)})
		}
	}
	sort.SliceStable(hits, func(a, b int) bool {
		if hits[a].start != hits[b].start {
			return hits[a].start < hits[b].start
		}
		return hits[a].end > hits[b].end
	})
	var out []string
	seen := map[string]bool{}
	lastEnd := -1
	for _, h := range hits {
		if h.start < lastEnd {
			continue // inside a longer reference already taken
		}
		lastEnd = h.end
		if !seen[h.ref] {
			seen[h.ref] = true
			out = append(out, h.ref)
		}
	}
	return out
}
