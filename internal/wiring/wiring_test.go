package wiring

import (
	"testing"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
)

func TestFetcherOptions(t *testing.T) {
	c := config.Fetch{UserAgent: "ua", Timeout: 7 * time.Second, MaxBytes: 42, Concurrency: 3, HostDelay: time.Second, AllowPrivate: true}
	got := FetcherOptions(c)
	if got.UserAgent != "ua" || got.Timeout != 7*time.Second || got.MaxBytes != 42 || got.Concurrency != 3 ||
		got.HostDelay != time.Second || !got.AllowPrivate {
		t.Fatalf("FetcherOptions = %+v", got)
	}
}

func TestSource(t *testing.T) {
	c := config.Source{ID: "eeas", Name: "EEAS", Type: config.TypeHTML, URL: "https://example.org/press", Language: "fr",
		HTML: &config.HTMLSource{Item: "li", Title: "a", Link: "a@href", Date: "time@datetime", DateFormat: "2006-01-02", Summary: "p"},
		JSON: &config.JSONSource{Items: "results", Title: "t", Link: "u", BaseURL: "https://example.org/", Date: "d", DateFormat: "20060102", Summary: "s", GUID: "g"}}
	got := Source(c)
	if got.ID != "eeas" || got.Type != "html" || got.URL != "https://example.org/press" || got.Language != "fr" {
		t.Fatalf("Source = %+v", got)
	}
	if got.HTML == nil || *got.HTML != (sources.HTMLOptions{Item: "li", Title: "a", Link: "a@href", Date: "time@datetime", DateFormat: "2006-01-02", Summary: "p"}) {
		t.Fatalf("Source HTML = %+v", got.HTML)
	}
	if got.JSON == nil || got.JSON.Items != "results" || got.JSON.BaseURL != "https://example.org/" || got.JSON.DateFormat != "20060102" || got.JSON.GUID != "g" {
		t.Fatalf("Source JSON = %+v", got.JSON)
	}
	if h := Source(config.Source{ID: "feed"}); h.HTML != nil || h.JSON != nil {
		t.Fatalf("a feed source got selectors: %+v", h)
	}
}
