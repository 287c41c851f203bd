package policywire

import (
	"strings"
	"time"
)

// Note is the line an edited alert shows, in loc: "Updated 14:05 CET",
// followed by what changed in the item itself ("new title, new link");
// a new source shows in the alert's "Also reported by" line.
func (e *AlertEdit) Note(loc *time.Location) string {
	if e == nil {
		return ""
	}
	if loc == nil {
		loc = time.UTC
	}
	note := "Updated " + e.At.In(loc).Format("15:04 MST")
	var what []string
	for _, c := range e.Changes {
		if c != ChangeSource {
			what = append(what, "new "+c)
		}
	}
	if len(what) > 0 {
		note += ": " + strings.Join(what, ", ")
	}
	return note
}
