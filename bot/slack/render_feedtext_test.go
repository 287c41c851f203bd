package slack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/sources"
)

// TestRenderAlertShowsLiteralMarkupOfFeedTitles renders titles as the
// feed reader hands them over when they hold literal markup ("History of
// the <blink> tag"): Slack must show the characters, not read them as
// its own markup.
func TestRenderAlertShowsLiteralMarkupOfFeedTitles(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "sources", "testdata", "feeds", "titles-atom-types.atom"))
	if err != nil {
		t.Fatal(err)
	}
	items, err := sources.Parse(sources.Source{ID: "w3"}, body, "https://standards.example.org/feed", "", time.UTC)
	if err != nil || len(items) != 4 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	for _, tc := range []struct {
		item            policywire.Item
		title, fallback string
	}{
		{items[0], "*<https://standards.example.org/blink|History of the &lt;blink&gt; tag>*", "History of the &lt;blink&gt; tag"},
		{items[1], "*<https://standards.example.org/label|Accessible forms &amp; the &lt;label&gt; element>*", "Accessible forms &amp; the &lt;label&gt; element"},
	} {
		blocks, fallback := RenderAlert(policywire.Alert{ID: "a", SourceName: "W3", Item: tc.item}, time.UTC)
		if got := blockTexts(t, blocks)[0]; got != tc.title {
			t.Errorf("title block\n got %q\nwant %q", got, tc.title)
		}
		if !strings.HasPrefix(fallback, tc.fallback) {
			t.Errorf("fallback %q, want it to start with %q", fallback, tc.fallback)
		}
		assertInert(t, "fallback", fallback)
	}
}
