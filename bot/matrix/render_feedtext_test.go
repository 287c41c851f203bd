package matrix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/sources"
)

// TestRenderShowsLiteralMarkupOfFeedTitles renders titles as the feed
// reader hands them over when they hold literal markup ("History of the
// <blink> tag"): the plain body keeps the characters and the HTML body
// escapes them, so no client reads them as an element.
func TestRenderShowsLiteralMarkupOfFeedTitles(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "..", "sources", "testdata", "feeds", "titles-escaped.rss"))
	if err != nil {
		t.Fatal(err)
	}
	items, err := sources.Parse(sources.Source{ID: "w3"}, body, "https://standards.example.org/feed", "", time.UTC)
	if err != nil || len(items) != 4 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	r := newRenderer(time.UTC)
	for _, tc := range []struct {
		item           policywire.Item
		plain, escaped string
	}{
		{items[0], "History of the <blink> tag", "History of the &lt;blink&gt; tag"},
		{items[1], "Rules for <script> elements in e-government forms", "Rules for &lt;script&gt; elements in e-government forms"},
	} {
		c := r.alert(policywire.Alert{ID: "a", SourceName: "W3", Item: tc.item})
		if !strings.HasPrefix(c.Body, tc.plain+"\n") {
			t.Errorf("body %q, want it to start with %q", c.Body, tc.plain)
		}
		if !strings.Contains(c.FormattedBody, ">"+tc.escaped+"</a>") {
			t.Errorf("formatted body %q lacks %q as the link text", c.FormattedBody, tc.escaped)
		}
		if strings.Contains(c.FormattedBody, "<blink") || strings.Contains(c.FormattedBody, "<script") {
			t.Errorf("formatted body %q carries the title's markup as HTML", c.FormattedBody)
		}
	}
}
