package sources

import (
	"fmt"
	"strings"
)

// Report says what reading one body took beyond the ordinary: items left
// out and why, what was repaired to read the rest, and warnings a user
// should see (a feed cut short). A source with a report still succeeded.
type Report struct {
	Dropped  []Dropped `json:"dropped,omitempty"`
	Repairs  []Repair  `json:"repairs,omitempty"`
	Warnings []string  `json:"warnings,omitempty"`
}

// Dropped is one item left out. Position counts the items of the body
// from 1, as they appear in it.
type Dropped struct {
	Position int    `json:"position"`
	Reason   string `json:"reason"`
}

// Repair is one thing read other than as written. Position is the item's,
// counted from 1, or 0 for the whole body.
type Repair struct {
	Position int    `json:"position,omitempty"`
	What     string `json:"what"`
}

// Empty reports whether there is nothing to tell.
func (r Report) Empty() bool {
	return len(r.Dropped) == 0 && len(r.Repairs) == 0 && len(r.Warnings) == 0
}

// maxReported bounds each list, so a hostile body cannot grow a report
// without limit; the last entry then says how many more there were.
const maxReported = 50

func (r *Report) drop(pos int, format string, args ...any) {
	if r == nil {
		return
	}
	r.Dropped = append(r.Dropped, Dropped{Position: pos, Reason: fmt.Sprintf(format, args...)})
}

func (r *Report) repair(pos int, format string, args ...any) {
	if r == nil || len(r.Repairs) > maxReported {
		return
	}
	if len(r.Repairs) == maxReported {
		r.Repairs = append(r.Repairs, Repair{What: "more repairs not listed"})
		return
	}
	r.Repairs = append(r.Repairs, Repair{Position: pos, What: fmt.Sprintf(format, args...)})
}

func (r *Report) warn(format string, args ...any) {
	if r == nil {
		return
	}
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// Summary is the report in one line for a source's health: its warnings
// and how many items were dropped, or "" when neither. Repairs are left
// out: the items they concern were read.
func (r Report) Summary() string {
	parts := append([]string(nil), r.Warnings...)
	switch n := len(r.Dropped); {
	case n == 1:
		parts = append(parts, fmt.Sprintf("item %d dropped: %s", r.Dropped[0].Position, r.Dropped[0].Reason))
	case n > 1:
		parts = append(parts, fmt.Sprintf("%d items dropped (first: item %d, %s)", n, r.Dropped[0].Position, r.Dropped[0].Reason))
	}
	return strings.Join(parts, "; ")
}
