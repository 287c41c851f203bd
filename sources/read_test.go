package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// fixtureFeeds are the fixtures that parse into items, with the source of
// testdata/fixtures/sources.yaml they stand for and their Content-Type.
var fixtureFeeds = []struct {
	file, source, contentType string
}{
	{"council-press.rss", "council-press", "application/rss+xml; charset=utf-8"},
	{"council-press-listing.html", "council-press-listing", "text/html; charset=utf-8"},
	{"eeas-press.html", "eeas-press", "text/html; charset=UTF-8"},
	{"commission-presscorner.rss", "commission-presscorner", "application/rss+xml"},
	{"commission-presscorner-api.json", "commission-presscorner-api", "application/json"},
	{"europarl-press.rss", "europarl-press", "application/rss+xml"},
	{"europarl-press-de.rss", "europarl-press-de", "application/rss+xml"},
	{"eurlex.rss", "eurlex", "application/rss+xml;charset=UTF-8"},
	{"state-press.rss", "state-press", "application/rss+xml; charset=UTF-8"},
	{"govuk-fcdo.atom", "govuk-fcdo", "application/atom+xml; charset=utf-8"},
	{"govuk-fcdo-v2.atom", "govuk-fcdo", "application/atom+xml; charset=utf-8"},
	{"govuk-search.atom", "govuk-search", "application/atom+xml; charset=utf-8"},
	{"govuk-search-api.json", "govuk-search-api", "application/json; charset=utf-8"},
	{"federalregister.json", "federalregister", "application/json; charset=utf-8"},
	{"federalregister-empty.json", "federalregister", "application/json; charset=utf-8"},
	{"diplomatie.rss", "diplomatie", "application/rss+xml; charset=utf-8"},
}

// fixtureFailures are the pages sources serve with status 200 instead of
// their feed or listing, and the title the error must name.
var fixtureFailures = []struct {
	file, source, title string
}{
	{"council-challenge.html", "council-press", "Just a moment..."},
	{"council-challenge.html", "council-press-listing", "Just a moment..."},
	{"europarl-antibot.html", "europarl-press", "Request Rejected"},
	{"state-technical-difficulties.html", "state-press", "Technical Difficulties"},
}

func fixtureBrussels(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func fixtureBody(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixtureSources loads testdata/fixtures/sources.yaml, the config other
// packages' tests use with these fixtures, with the real config loader, and
// takes from each source what internal/wiring gives sources (which cannot
// be imported here: it imports this package). Its JSON link templates must
// be valid too.
func fixtureSources(t testing.TB) map[string]Source {
	t.Helper()
	srcs := map[string]Source{}
	for id, s := range testenv.FixtureSources(t) {
		srcs[id] = Source{ID: s.ID, Type: s.Type, URL: s.URL, Language: s.Language,
			HTML: (*HTMLOptions)(s.HTML), JSON: (*JSONOptions)(s.JSON)}
		if s.JSON != nil {
			if err := CheckLinkTemplate(s.JSON.Link); err != nil {
				t.Errorf("source %s: %v", id, err)
			}
		}
	}
	return srcs
}

// fixtureItems parses one fixture as its source would.
func fixtureItems(t testing.TB, file, source string) []policywire.Item {
	t.Helper()
	src, ok := fixtureSources(t)[source]
	if !ok {
		t.Fatalf("no source %q in sources.yaml", source)
	}
	items, err := Parse(src, fixtureBody(t, file), src.URL, "", fixtureBrussels(t))
	if err != nil {
		t.Fatalf("parse %s as %s: %v", file, source, err)
	}
	return items
}

func TestFixturesGolden(t *testing.T) {
	srcs := fixtureSources(t)
	loc := fixtureBrussels(t)
	for _, fx := range fixtureFeeds {
		t.Run(fx.file, func(t *testing.T) {
			src := srcs[fx.source]
			items, err := Parse(src, fixtureBody(t, fx.file), src.URL, fx.contentType, loc)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if items == nil {
				items = []policywire.Item{}
			}
			for _, it := range items {
				if it.Source != src.ID {
					t.Errorf("item %q: source %q, want %q", it.Title, it.Source, src.ID)
				}
				if it.ID != policywire.Identity(it) {
					t.Errorf("item %q: ID %q is not its identity %q", it.Title, it.ID, policywire.Identity(it))
				}
				if it.URL == "" || !strings.HasPrefix(it.URL, "https://") {
					t.Errorf("item %q: URL %q is not absolute", it.Title, it.URL)
				}
				if it.Published.IsZero() {
					t.Errorf("item %q has no date", it.Title)
				}
				if y, m := it.Published.Year(), it.Published.Month(); y != 2026 || m < time.September || m > time.November {
					t.Errorf("item %q: date %s is outside Sept–Nov 2026", it.Title, it.Published)
				}
				if it.Language == "" {
					t.Errorf("item %q has no language", it.Title)
				}
			}
			got, err := json.MarshalIndent(items, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", fx.file+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sources/ -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("items differ from %s (go test ./sources/ -update rewrites it):\n%s", golden, fixtureDiff(string(want), string(got)))
			}
		})
	}
}

// fixtureDiff shows the first differing lines of two texts.
func fixtureDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want " + wl + "\n  got  " + gl + "\n")
			if shown++; shown == 5 {
				break
			}
		}
	}
	return b.String()
}

func TestFixtureFailurePages(t *testing.T) {
	srcs := fixtureSources(t)
	for _, fx := range fixtureFailures {
		t.Run(fx.file+"/"+fx.source, func(t *testing.T) {
			src := srcs[fx.source]
			items, err := Parse(src, fixtureBody(t, fx.file), src.URL, "text/html; charset=utf-8", time.UTC)
			if len(items) != 0 {
				t.Errorf("got %d items from an error page", len(items))
			}
			se := fetchWantKind(t, err, KindUnexpected)
			if se.Title != fx.title {
				t.Errorf("title = %q, want %q", se.Title, fx.title)
			}
			if se.URL != src.URL {
				t.Errorf("URL = %q, want %q", se.URL, src.URL)
			}
			if !strings.Contains(err.Error(), fx.title) {
				t.Errorf("message %q does not name the page title", err)
			}
		})
	}
}

func TestReadFetchesAndParses(t *testing.T) {
	srcs := fixtureSources(t)
	type answer struct {
		file, contentType, etag string
	}
	routes := map[string]answer{
		"/council.rss":  {"council-press.rss", "application/rss+xml; charset=utf-8", `"c1"`},
		"/eeas/press":   {"eeas-press.html", "text/html; charset=UTF-8", ""},
		"/fr/documents": {"federalregister.json", "application/json", ""},
	}
	accepts := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := routes[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		accepts[r.URL.Path] = r.Header.Get("Accept")
		if a.etag != "" {
			w.Header().Set("ETag", a.etag)
			if r.Header.Get("If-None-Match") == a.etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		w.Header().Set("Content-Type", a.contentType)
		_, _ = w.Write(fixtureBody(t, a.file))
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	ctx := context.Background()
	loc := fixtureBrussels(t)

	council := srcs["council-press"]
	council.URL = srv.URL + "/council.rss"
	res, err := Read(ctx, f, council, Validators{}, loc)
	if err != nil {
		t.Fatalf("Read council: %v", err)
	}
	if len(res.Items) != 6 || res.Response == nil || res.Response.Validators.ETag != `"c1"` {
		t.Fatalf("Read council: %d items, response %+v", len(res.Items), res.Response)
	}
	for _, it := range res.Items {
		if it.Source != "council-press" {
			t.Errorf("item %q has source %q", it.Title, it.Source)
		}
	}
	if got := accepts["/council.rss"]; !strings.Contains(got, "application/rss+xml") || !strings.Contains(got, "application/atom+xml") {
		t.Errorf("feed Accept = %q", got)
	}

	again, err := Read(ctx, f, council, res.Response.Validators, loc)
	if err != nil {
		t.Fatalf("conditional Read: %v", err)
	}
	if !again.Response.NotModified || len(again.Items) != 0 {
		t.Errorf("conditional Read: not modified %v, %d items", again.Response.NotModified, len(again.Items))
	}

	// Relative links of a page resolve against the URL it was fetched from.
	eeas := srcs["eeas-press"]
	eeas.URL = srv.URL + "/eeas/press"
	res, err = Read(ctx, f, eeas, Validators{}, loc)
	if err != nil {
		t.Fatalf("Read eeas: %v", err)
	}
	if len(res.Items) != 5 {
		t.Fatalf("Read eeas: %d items, want 5", len(res.Items))
	}
	if want := srv.URL + "/eeas/kenya-high-representative-visits-nairobi_en"; res.Items[4].URL != want {
		t.Errorf("relative link resolved to %q, want %q", res.Items[4].URL, want)
	}
	if got := accepts["/eeas/press"]; !strings.HasPrefix(got, "text/html") {
		t.Errorf("html Accept = %q", got)
	}

	fr := srcs["federalregister"]
	fr.URL = srv.URL + "/fr/documents"
	if res, err = Read(ctx, f, fr, Validators{}, loc); err != nil || len(res.Items) != 3 {
		t.Fatalf("Read federal register: %v, %v", res, err)
	}
	if got := accepts["/fr/documents"]; !strings.HasPrefix(got, "application/json") {
		t.Errorf("json Accept = %q", got)
	}

	// A challenge page served with 200 fails the read but keeps the answer.
	routes["/council.rss"] = answer{"council-challenge.html", "text/html; charset=UTF-8", ""}
	res, err = Read(ctx, f, council, Validators{}, loc)
	se := fetchWantKind(t, err, KindUnexpected)
	if se.Title != "Just a moment..." || res == nil || res.Response == nil || res.Response.Status != 200 {
		t.Errorf("challenge: title %q, result %+v", se.Title, res)
	}

	// A fetch failure is the fetcher's error, unchanged.
	missing := srcs["council-press"]
	missing.URL = srv.URL + "/gone.rss"
	_, err = Read(ctx, f, missing, Validators{}, loc)
	if se := fetchWantKind(t, err, KindStatus); se.Status != 404 {
		t.Errorf("missing feed: status %d", se.Status)
	}
}

func TestParseRejectsUnknownTypeAndEmptyBody(t *testing.T) {
	_, err := Parse(Source{ID: "x", Type: "csv", URL: "https://example.org/"}, []byte("a,b"), "", "", nil)
	if err == nil || !strings.Contains(err.Error(), `"csv"`) || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("unknown type: %v", err)
	}
	for _, typ := range []string{TypeFeed, TypeHTML, TypeJSON} {
		src := Source{ID: "x", Type: typ, URL: "https://example.org/", HTML: &HTMLOptions{Item: "li"}}
		_, err := Parse(src, []byte(" \n\t "), "", "", nil)
		if se := fetchWantKind(t, err, KindUnexpected); !strings.Contains(se.Error(), "empty body") {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestAcceptFor(t *testing.T) {
	for typ, want := range map[string]string{"": AcceptFeed, "feed": AcceptFeed, "html": AcceptHTML, "json": AcceptJSON} {
		if got := AcceptFor(typ); got != want {
			t.Errorf("AcceptFor(%q) = %q, want %q", typ, got, want)
		}
	}
}
