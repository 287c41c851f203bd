package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// FuzzRenderAlert checks that whatever a source publishes, the message
// holds no live markup besides its own links, no invisible characters and
// nothing beyond Slack's limits.
func FuzzRenderAlert(f *testing.F) {
	f.Add("<!channel> <@U123> <https://evil.example|click> @here & <b>", "summary & <!here>", "https://policy.example/a?b=1&c=2", "Source")
	f.Add("\u202egnirts\u200b", "line\n\n\nline", "javascript:alert(1)", "")
	f.Add(strings.Repeat("&", 400), strings.Repeat("<>", 2000), "https://x.example/|>", "@everyone")
	f.Fuzz(func(t *testing.T, title, summary, link, source string) {
		a := policywire.Alert{
			ID:         "fuzz",
			SourceName: source,
			Topics:     []string{source},
			Item: policywire.Item{
				Title: title, Summary: summary, URL: link,
				References: []string{summary},
				Published:  time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			},
			Also: []policywire.AlsoReported{{SourceName: title, URL: link}},
		}
		blocks, fallback := RenderAlert(a, time.UTC)
		var allowed []string
		if u, ok := safeURL(link); ok {
			allowed = append(allowed, u)
		}
		texts := blockTexts(t, blocks)
		for _, s := range texts {
			if utf16Len(s) > maxSectionText {
				t.Fatalf("block text of %d units", utf16Len(s))
			}
			assertInert(t, "block", s, allowed...)
		}
		if utf16Len(fallback) > maxFallbackText {
			t.Fatalf("fallback of %d units", utf16Len(fallback))
		}
		assertInert(t, "fallback", strings.ReplaceAll(fallback, ", "+strings.Join(allowed, ""), ""))
		for _, s := range append(texts, fallback) {
			for _, r := range s {
				if isInvisible(r) {
					t.Fatalf("invisible %U in %q", r, s)
				}
			}
		}
	})
}
