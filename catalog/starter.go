package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/policywire/policywire/config"
)

// StarterConfig writes a config from the example config with its sources
// replaced by the entries, grouped under a comment per kind. Everything
// else (topics, chat, channels, comments) is kept; a channel's sources
// filter keeps only the ids that are still there, and goes when none is.
func StarterConfig(example []byte, entries []Entry) ([]byte, error) {
	if len(entries) == 0 {
		return nil, errors.New("catalog: no entries chosen")
	}
	lines := strings.SplitAfter(string(example), "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		top := l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '\n'
		switch {
		case start < 0 && strings.HasPrefix(l, "sources:"):
			start = i
		case start >= 0 && top:
			end = i
		}
		if start >= 0 && end < len(lines) {
			break
		}
	}
	if start < 0 {
		return nil, errors.New("catalog: the example config has no sources list")
	}
	var b bytes.Buffer
	for _, l := range lines[:start] {
		b.WriteString(l)
	}
	b.WriteString("sources:                         # from the built-in catalog: policywire catalog lists it, catalog show ID explains an entry\n\n")
	kind := ""
	ids := map[string]bool{}
	for _, e := range entries {
		if e.Kind != kind {
			kind = e.Kind
			fmt.Fprintf(&b, "  # %s\n", kindTitle[kind])
		}
		ids[e.Source.ID] = true
		b.WriteString(config.SourceYAML(e.Source, ""))
		b.WriteString("\n")
	}
	for _, l := range lines[end:] {
		b.WriteString(filterSourceRefs(l, ids))
	}
	return b.Bytes(), nil
}

var kindTitle = map[string]string{
	KindEU:            "European Union",
	KindGovernment:    "Governments",
	KindInternational: "International organisations",
	KindCivilSociety:  "Civil society and industry",
}

var sourcesFilterLine = regexp.MustCompile(`^(\s+sources:\s*)\[([^\]]*)\](.*)$`)

// filterSourceRefs rewrites a channel's "sources: [a, b]" line to the ids
// that exist, or drops the line.
func filterSourceRefs(line string, ids map[string]bool) string {
	m := sourcesFilterLine.FindStringSubmatch(strings.TrimRight(line, "\n"))
	if m == nil {
		return line
	}
	var keep []string
	for _, id := range strings.Split(m[2], ",") {
		if id = strings.TrimSpace(id); ids[id] {
			keep = append(keep, id)
		}
	}
	if len(keep) == 0 {
		return ""
	}
	return m[1] + "[" + strings.Join(keep, ", ") + "]" + m[3] + "\n"
}
