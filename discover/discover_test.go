package discover

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loopbackFetcher is the real fetcher, allowed to reach the fixture server.
func loopbackFetcher(t *testing.T) *sources.Fetcher {
	f := sources.NewFetcher(sources.FetcherOptions{AllowPrivate: true, Timeout: 10 * time.Second})
	t.Cleanup(f.Close)
	return f
}

func run(t *testing.T, fx *testenv.FixtureServer, path string) *Result {
	t.Helper()
	res, err := Discover(context.Background(), loopbackFetcher(t), fx.URL+path, Options{})
	if err != nil {
		t.Fatalf("discover %s: %v", path, err)
	}
	return res
}

func TestWordPressSiteFeedFoundFromThePage(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/news/", testdata(t, "wordpress-home.html"), "text/html; charset=UTF-8")
	fx.Set("/feed/", testdata(t, "wordpress-feed.rss"), "application/rss+xml; charset=UTF-8")
	fx.Set("/comments/feed/", testdata(t, "wordpress-comments.rss"), "application/rss+xml; charset=UTF-8")
	fx.Set("/wp-json/wp/v2/posts", testdata(t, "wordpress-posts.json"), "application/json; charset=UTF-8")
	res := run(t, fx, "/news/")

	if len(res.Candidates) != 3 {
		t.Fatalf("want the feed, the comments feed and the REST API, got %d: %+v", len(res.Candidates), res.Candidates)
	}
	best := res.Candidates[0]
	if best.Source.URL != fx.URL+"/feed/" || best.Source.Type != config.TypeFeed || best.Via != "link rel=alternate" {
		t.Errorf("best candidate %s %s via %s, want the site feed linked from the page", best.Source.Type, best.Source.URL, best.Via)
	}
	if best.Items != 3 || best.Newest.Format(time.RFC3339) != "2026-11-26T10:12:44Z" || strings.Join(best.Languages, ",") != "en" {
		t.Errorf("feed yields %d items, newest %s, languages %v; want 3, 2026-11-26T10:12:44Z, [en]", best.Items, best.Newest, best.Languages)
	}
	if best.Source.Name != "Cybersecurity Tech Accord » Feed" || best.Source.ID != "127-0-0-1-feed" {
		t.Errorf("name %q id %q", best.Source.Name, best.Source.ID)
	}
	// The comments feed is newer but is not what a policy team follows.
	if last := res.Candidates[2]; !strings.HasSuffix(last.Source.URL, "/comments/feed/") {
		t.Errorf("the comments feed should come last, got %s", last.Source.URL)
	}
	api := res.Candidates[1]
	if api.Via != "WordPress REST API" || api.Items != 2 || api.Source.JSON == nil || api.Source.JSON.Title != "title.rendered" {
		t.Errorf("second candidate %+v, want the WordPress REST API with 2 posts", api)
	}
	// The usual feed paths are not guessed when the page names its feeds.
	if n := fx.Requests("/rss.xml") + fx.Requests("/atom.xml"); n != 0 {
		t.Errorf("%d requests for guessed feed paths", n)
	}
	if n := fx.Requests("/feed/"); n != 1 {
		t.Errorf("the feed was fetched %d times, want once", n)
	}
}

func TestFeedPathsTriedOnceEachWhenThePageLinksNone(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/", []byte(`<!DOCTYPE html><html lang="en"><head><title>Paris Call</title></head><body><p>Welcome</p></body></html>`), "text/html")
	fx.Set("/feed/", testdata(t, "wordpress-feed.rss"), "application/rss+xml")
	fx.Set("/", []byte(`<!DOCTYPE html><html lang="en"><head><title>Paris Call</title></head><body><p>Welcome</p></body></html>`), "text/html")
	res := run(t, fx, "/")
	if len(res.Candidates) != 1 || res.Candidates[0].Via != "feed path" || res.Candidates[0].Source.URL != fx.URL+"/feed/" {
		t.Fatalf("candidates %+v, want /feed/ found as a feed path", res.Candidates)
	}
	for _, p := range []string{"/feed/", "/rss.xml", "/atom.xml"} {
		if n := fx.Requests(p); n != 1 {
			t.Errorf("%s asked %d times, want once", p, n)
		}
	}
}

func TestGOVUKPageProposesTheSearchAPI(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/government/organisations/foreign-commonwealth-development-office", testdata(t, "govuk-organisation.html"), "text/html; charset=utf-8")
	fx.Set("/government/organisations/foreign-commonwealth-development-office.atom", testenv.SourceFixture(t, "govuk-fcdo.atom"), testenv.ContentTypeFor(".atom"))
	fx.Set("/api/search.json", testenv.SourceFixture(t, "govuk-search-api.json"), testenv.ContentTypeFor(".json"))
	res := run(t, fx, "/government/organisations/foreign-commonwealth-development-office")

	var api *Candidate
	for i := range res.Candidates {
		if res.Candidates[i].Via == "GOV.UK search API" {
			api = &res.Candidates[i]
		}
	}
	if api == nil {
		t.Fatalf("no GOV.UK search API among %+v (tried %v)", res.Candidates, res.Tried)
	}
	want := fx.URL + "/api/search.json?filter_organisations=foreign-commonwealth-development-office&order=-public_timestamp&count=20"
	if api.Source.URL != want || api.Source.Type != config.TypeJSON {
		t.Errorf("API source %s %s, want json %s", api.Source.Type, api.Source.URL, want)
	}
	if api.Items == 0 || api.Dated != api.Items {
		t.Errorf("API yields %d items, %d dated", api.Items, api.Dated)
	}
	for _, it := range api.Sample {
		if !strings.HasPrefix(it.URL, fx.URL+"/government/") {
			t.Errorf("relative API links must resolve against the site: %s", it.URL)
		}
	}
	if len(res.Candidates) != 2 {
		t.Errorf("want the organisation's Atom feed and the API, got %d candidates", len(res.Candidates))
	}
}

func TestDrupalListingWithoutFeedGetsSelectorsThatReadIt(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/en/news", testdata(t, "drupal-listing.html"), "text/html; charset=UTF-8")
	res := run(t, fx, "/en/news")
	if len(res.Candidates) == 0 {
		t.Fatalf("no selectors proposed; tried %v", res.Tried)
	}
	best := res.Candidates[0]
	if best.Source.Type != config.TypeHTML || best.Source.HTML == nil {
		t.Fatalf("best candidate is %s, want html selectors", best.Source.Type)
	}
	t.Logf("proposed %+v", *best.Source.HTML)
	// The guessed feed paths were asked once each and answered 404.
	for _, p := range []string{"/feed/", "/rss.xml", "/atom.xml"} {
		if n := fx.Requests(p); n != 1 {
			t.Errorf("%s asked %d times, want once", p, n)
		}
	}

	// Read the page with the proposed selectors through the real adapter
	// and compare with the listing as a reader sees it.
	var want []struct{ Title, Link, Date string }
	if err := json.Unmarshal(testdata(t, "drupal-listing.expected.json"), &want); err != nil {
		t.Fatal(err)
	}
	src := best.Source
	src.ID = "vm-news"
	items, err := sources.Parse(wiring.Source(src), testdata(t, "drupal-listing.html"), fx.URL+"/en/news", "text/html", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i, it := range items {
		got[it.URL] = i
	}
	right := 0
	for _, w := range want {
		link := strings.Replace(w.Link, "https://www.vm.ee", fx.URL, 1)
		i, ok := got[link]
		if !ok {
			t.Errorf("item %q (%s) not read", w.Title, link)
			continue
		}
		wd, _ := time.Parse(time.RFC3339, w.Date)
		it := items[i]
		if it.Title != w.Title || !it.Date().Equal(wd) {
			t.Errorf("item %s read as %q dated %s, want %q dated %s", link, it.Title, it.Date(), w.Title, wd)
			continue
		}
		right++
	}
	if right*10 < len(want)*9 {
		t.Errorf("the proposed selectors read %d of %d listing items right, want at least 90%%", right, len(want))
	}
	if len(items) > len(want) {
		t.Errorf("the selectors read %d items from a listing of %d: menus or footers are read as items", len(items), len(want))
	}
	if best.Items != len(items) || best.Newest.IsZero() {
		t.Errorf("candidate says %d items newest %s; the adapter read %d", best.Items, best.Newest, len(items))
	}
}

func TestChallengePageIsReportedAsBlocked(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/en/press/", testenv.SourceFixture(t, "council-challenge.html"), "text/html")
	_, err := Discover(context.Background(), loopbackFetcher(t), fx.URL+"/en/press/", Options{})
	var be *BlockedError
	if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || be.Title != "Just a moment..." {
		t.Fatalf("err = %v, want a BlockedError with the page title", err)
	}
	if n := fx.Requests("/feed/"); n != 0 {
		t.Errorf("a blocked page should not lead to guessing feed paths (%d requests)", n)
	}
}

func TestThreeFeedsAllListedBestFirst(t *testing.T) {
	fx := testenv.NewFixtureServer(t)
	fx.Set("/press", testdata(t, "threefeeds.html"), "text/html")
	fx.Set("/speeches.atom", testenv.SourceFixture(t, "govuk-fcdo.atom"), testenv.ContentTypeFor(".atom"))
	fx.Set("/press.rss", testenv.SourceFixture(t, "state-press.rss"), testenv.ContentTypeFor(".rss"))
	fx.Set("/events.json", testdata(t, "events.json"), "application/feed+json")
	res := run(t, fx, "/press")
	var got []string
	for _, c := range res.Candidates {
		got = append(got, strings.TrimPrefix(c.Source.URL, fx.URL))
	}
	// Newest first: the press releases (5 Nov), the speeches (22 Oct), the events (30 Sep).
	if strings.Join(got, " ") != "/press.rss /speeches.atom /events.json" {
		t.Fatalf("candidates %v, want /press.rss /speeches.atom /events.json", got)
	}
	for i := 1; i < len(res.Candidates); i++ {
		if res.Candidates[i].Newest.After(res.Candidates[i-1].Newest) {
			t.Errorf("candidate %d is newer than the one before it", i+1)
		}
	}
	if res.Candidates[0].Source.Name != "Press releases (RSS)" {
		t.Errorf("the feed's name should come from its link title: %q", res.Candidates[0].Source.Name)
	}
}
