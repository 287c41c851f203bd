package bot

import (
	"fmt"
	"strings"

	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/summary"
)

// maxSimilarTerms is how many title words a "Watch similar" query keeps:
// enough to be about the story, few enough that later stories match.
const maxSimilarTerms = 4

// SimilarQuery is the watch query for stories like one titled title: its
// first content words (no stop words, numbers or single letters), which
// must all match; "" when the title has none. The words are letters and
// digits only, so the query always parses.
func SimilarQuery(title string) string {
	var terms []string
	for _, w := range summary.ContentWords(title) {
		if len([]rune(w)) < 3 || containsString(terms, w) {
			continue
		}
		terms = append(terms, w)
		if len(terms) == maxSimilarTerms {
			break
		}
	}
	return strings.Join(terms, " ")
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// mute keeps a source's alerts out of the channel the command came from.
func (c *Commands) mute(req CommandRequest, source string) (Answer, error) {
	ch, refused := c.managedChannel(req)
	if refused != nil {
		return *refused, nil
	}
	if source == "" {
		return Answer{Text: "Mute which source? Give its id, as listed by sources, for example: mute council-press"}, nil
	}
	src, known := c.Bot.Config().SourceByID(source)
	if !known {
		return Answer{Text: fmt.Sprintf("There is no source %q; sources lists them.", clip(source, 60))}, nil
	}
	added, err := c.Bot.opts.Store.MuteSource(store.Mute{Channel: ch, Source: src.ID, By: req.User, Created: c.now()})
	if err != nil {
		return Answer{}, fmt.Errorf("bot: mute: %w", err)
	}
	if !added {
		return Answer{Text: fmt.Sprintf("%s is muted here already. unmute %s brings it back.", sourceName(src), src.ID)}, nil
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	return Answer{Public: true, Text: fmt.Sprintf("Muted %s in this channel: its new items are no longer posted here. unmute %s brings it back.", sourceName(src), src.ID)}, nil
}

func (c *Commands) unmute(req CommandRequest, source string) (Answer, error) {
	ch, refused := c.managedChannel(req)
	if refused != nil {
		return *refused, nil
	}
	if source == "" {
		return Answer{Text: "Unmute which source? subscriptions lists the muted ones."}, nil
	}
	removed, err := c.Bot.opts.Store.UnmuteSource(ch, source)
	if err != nil {
		return Answer{}, fmt.Errorf("bot: unmute: %w", err)
	}
	if !removed {
		return Answer{Text: fmt.Sprintf("%s is not muted in this channel.", clip(source, 60))}, nil
	}
	if err := c.Bot.RebuildRouter(); err != nil {
		return Answer{}, err
	}
	return Answer{Public: true, Text: fmt.Sprintf("Unmuted %s: its new items are posted here again.", source)}, nil
}

// muteLines lists a channel's muted sources, for subscriptions.
func (c *Commands) muteLines(channel string) ([]string, error) {
	mutes, err := c.Bot.opts.Store.Mutes(channel)
	if err != nil {
		return nil, fmt.Errorf("bot: mutes: %w", err)
	}
	var lines []string
	for _, m := range mutes {
		lines = append(lines, fmt.Sprintf("• muted: %s (unmute %s)", m.Source, m.Source))
	}
	return lines, nil
}
