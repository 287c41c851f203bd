package bot

import (
	"fmt"
	"strings"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
)

// AlsoNote is " · also reported by EEAS, GOV.UK": the other sources of a
// story by their configured names, for a line about one of its items; ""
// when there are none.
func AlsoNote(cfg *config.Config, also []policywire.AlsoReported) string {
	var names []string
	for _, o := range also {
		name := o.SourceName
		if src, ok := cfg.SourceByID(o.Source); ok {
			name = sourceName(src)
		}
		if name == "" {
			name = o.Source
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return ""
	}
	return " · also reported by " + strings.Join(names, ", ")
}

// withStory adds to an entry's meta line what a reader of one alert
// should know of its story: the other sources that carried it and, for a
// delivered alert, how many follow-ups its thread holds.
func (c *Commands) withStory(e Entry, also []policywire.AlsoReported, replies int) Entry {
	e.Meta += AlsoNote(c.Bot.Config(), also)
	if replies > 0 {
		e.Meta += fmt.Sprintf(" · %d follow-up%s in its thread", replies, plural(replies))
	}
	return e
}
