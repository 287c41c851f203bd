package discover

import (
	"net/url"
	"testing"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

// FuzzProposeSelectors: any page is read without panicking, and every
// selector set proposed for it is accepted by the html adapter.
func FuzzProposeSelectors(f *testing.F) {
	for _, name := range []string{"drupal-listing.html", "wordpress-home.html", "govuk-organisation.html", "threefeeds.html"} {
		f.Add(testdata(f, name))
	}
	f.Add([]byte(`<ul><li><a href="/a">A title long enough</a> <time datetime="2026-01-02">2 January 2026</time></li></ul>`))
	base, _ := url.Parse("https://example.org/news/")
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := readPage(body, "text/html", base)
		if err != nil {
			return
		}
		siteAPIs(p, base)
		for _, h := range proposeSelectors(p) {
			src := config.Source{ID: "fuzz", Type: config.TypeHTML, URL: base.String(), HTML: h}
			if _, err := sources.Parse(wiring.Source(src), body, base.String(), "text/html", time.UTC); err != nil && sources.KindOf(err) == "" {
				t.Fatalf("proposed selectors %+v are refused: %v", *h, err)
			}
		}
	})
}
