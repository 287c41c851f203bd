package bot

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// searchPageSize is how many hits one page of a chat search shows.
const searchPageSize = 5

// Action is a button under an answer; the platform hands Value back to
// the bot when it is pressed.
type Action struct {
	ID    string // ActionShare or ActionMore
	Label string
	Value string
}

// The actions of a search answer.
const (
	// ActionShare posts the page to the channel for everyone.
	ActionShare = "share"
	// ActionMore shows the next page to the asker.
	ActionMore = "more"
)

// SearchAction is the value of a search answer's buttons: which query and
// page they show.
type SearchAction struct {
	Query string `json:"q"`
	Page  int    `json:"page"`
}

// ParseSearchAction reads a button's value back.
func ParseSearchAction(value string) (SearchAction, error) {
	var a SearchAction
	if err := json.Unmarshal([]byte(value), &a); err != nil || a.Query == "" || a.Page < 1 {
		return SearchAction{}, fmt.Errorf("bot: not a search button's value: %q", clip(value, 80))
	}
	return a, nil
}

func (a SearchAction) value() string {
	b, _ := json.Marshal(a)
	return string(b)
}

// SearchPage answers page (from 1) of a search, with a Share button and,
// when there may be more, a More button.
func (c *Commands) SearchPage(ctx context.Context, q string, page int) (Answer, error) {
	if q == "" {
		return Answer{Text: "Search for what? For example: search \"digital diplomacy\""}, nil
	}
	parsed, err := query.Parse(q)
	if err != nil {
		return queryError(q, err), nil
	}
	if c.Searcher == nil {
		return Answer{Text: "Search is not available: the archive index is not open."}, nil
	}
	page = max(page, 1)
	hits, err := c.Searcher.Search(ctx, parsed, policywire.SearchOptions{Limit: searchPageSize, Offset: (page - 1) * searchPageSize, Now: c.localNow()})
	if err != nil {
		return Answer{}, fmt.Errorf("bot: search: %w", err)
	}
	switch {
	case len(hits) == 0 && page == 1:
		return Answer{Text: fmt.Sprintf("Nothing in the archive matches %s.", clip(q, 200))}, nil
	case len(hits) == 0:
		return Answer{Text: fmt.Sprintf("No more matches for %s.", clip(q, 200))}, nil
	}
	if err := c.Bot.opts.Store.AddStorySources(hits); err != nil {
		return Answer{}, fmt.Errorf("bot: search: %w", err)
	}
	a := Answer{Text: fmt.Sprintf("Best matches for %s:", clip(q, 200))}
	if page > 1 {
		a.Text = fmt.Sprintf("More matches for %s (page %d):", clip(q, 200), page)
	}
	for _, h := range hits {
		a.Entries = append(a.Entries, c.withStory(c.entry(h.Item, h.Snippet), h.Also, 0))
	}
	a.Actions = []Action{{ID: ActionShare, Label: "Share", Value: SearchAction{Query: q, Page: page}.value()}}
	if len(hits) == searchPageSize {
		a.Actions = append(a.Actions, Action{ID: ActionMore, Label: "More", Value: SearchAction{Query: q, Page: page + 1}.value()})
	}
	return a, nil
}
