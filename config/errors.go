package config

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a config file, at the node that caused it.
type Error struct {
	File string
	Line int
	Col  int
	Msg  string
}

// Error formats the problem as FILE:LINE:COL: message.
func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// Errors is every problem found in one file, sorted by position. Load
// returns it (never an empty one) when the file parses but is invalid.
type Errors []*Error

// Error prints one FILE:LINE:COL: message per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sort() {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Line != es[j].Line {
			return es[i].Line < es[j].Line
		}
		return es[i].Col < es[j].Col
	})
}
