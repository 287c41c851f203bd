package catalog

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

// fixtureFiles maps entry ids to the fixture reproducing them.
func fixtureFiles(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readFixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func entries(t *testing.T) []Entry {
	t.Helper()
	es, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// serveCatalog serves every entry's fixture on one loopback server and
// returns the entries' sources pointed at it.
func serveCatalog(t *testing.T, es []Entry) (*testenv.FixtureServer, []config.Source) {
	t.Helper()
	files := fixtureFiles(t)
	fx := testenv.NewFixtureServer(t)
	var srcs []config.Source
	for _, e := range es {
		file, ok := files[e.Source.ID]
		if !ok {
			t.Fatalf("entry %s has no fixture in testdata/fixtures.yaml", e.Source.ID)
		}
		src := e.Source
		src.URL = fx.ServeAs(src.URL, readFixture(t, file), testenv.ContentTypeFor(file))
		srcs = append(srcs, src)
	}
	return fx, srcs
}

func fetcher(t *testing.T) *sources.Fetcher {
	f := sources.NewFetcher(sources.FetcherOptions{AllowPrivate: true, Timeout: 10 * time.Second})
	t.Cleanup(f.Close)
	return f
}

func TestCatalogCoversThePublishers(t *testing.T) {
	es := entries(t)
	ids := map[string]Entry{}
	for _, e := range es {
		if _, dup := ids[e.Source.ID]; dup {
			t.Errorf("duplicate id %s", e.Source.ID)
		}
		ids[e.Source.ID] = e
		if e.Source.Language == "" || e.Source.Schedule == "" || e.Source.Name == e.Source.ID {
			t.Errorf("%s: language, schedule and name must be set: %+v", e.Source.ID, e.Source)
		}
		u, err := url.Parse(e.Source.URL)
		if err != nil || u.Scheme != "https" {
			t.Errorf("%s: the URL should be the publisher's https URL: %s", e.Source.ID, e.Source.URL)
		}
	}
	for _, id := range []string{
		"council-press", "european-council-president", "eeas-press", "commission-presscorner", "dg-connect-news",
		"europarl-press", "europarl-afet", "europarl-itre", "eurlex", "enisa-news",
		"state-press", "state-cdp", "federal-register-state", "govuk-fcdo", "govuk-dsit", "france-diplomatie",
		"auswaertiges-amt", "rijksoverheid-bz", "estonia-mfa", "mofa-japan", "canada-gac", "australia-dfat",
		"un-oewg-ict", "itu-news", "igf-news", "oecd-newsroom", "coe-newsroom", "nato-news",
		"tech-accord", "paris-call", "gfce-news",
	} {
		if _, ok := ids[id]; !ok {
			t.Errorf("no catalog entry %s", id)
		}
	}
	files := fixtureFiles(t)
	for id := range files {
		if _, ok := ids[id]; !ok {
			t.Errorf("testdata/fixtures.yaml names %s, which is not in the catalog", id)
		}
	}
}

// TestEveryEntryReadsItsFixture fetches each entry's fixture on loopback
// through the real fetcher and adapter, as the daemon would.
func TestEveryEntryReadsItsFixture(t *testing.T) {
	es := entries(t)
	_, srcs := serveCatalog(t, es)
	f := fetcher(t)
	for i, src := range srcs {
		e := es[i]
		t.Run(e.Source.ID, func(t *testing.T) {
			res, err := sources.Read(context.Background(), f, wiring.Source(src), sources.Validators{}, time.UTC)
			if err != nil {
				t.Fatalf("%v", err)
			}
			if len(res.Items) < 3 {
				t.Fatalf("%d items, want at least 3", len(res.Items))
			}
			for _, it := range res.Items {
				u, err := url.Parse(it.URL)
				if strings.TrimSpace(it.Title) == "" || err != nil || !u.IsAbs() || u.Host == "" {
					t.Errorf("item without a title or an absolute link: %q %q", it.Title, it.URL)
				}
				if it.Date().IsZero() {
					t.Errorf("item %q has no date", it.Title)
				}
				if it.Language == "" || !strings.HasPrefix(it.Language, e.Source.Language) {
					t.Errorf("item %q language %q, want %s", it.Title, it.Language, e.Source.Language)
				}
				if strings.Contains(it.Title, "<") || strings.Contains(it.Title, "&#") {
					t.Errorf("title keeps markup: %q", it.Title)
				}
			}
		})
	}
}

func TestVerifyReportsTheEntriesThatNoLongerParse(t *testing.T) {
	es, err := Select(entries(t), []string{"eu"})
	if err != nil {
		t.Fatal(err)
	}
	fx, srcs := serveCatalog(t, es)
	broken := map[string]string{}
	for i, src := range srcs {
		switch es[i].Source.ID {
		case "eeas-press":
			// A redesign: the cards are gone, the selectors find nothing.
			fx.ServeAs(es[i].Source.URL, []byte(`<!DOCTYPE html><html lang="en"><head><title>Press material | EEAS</title></head><body><main><div class="ecl-content-item"><a href="/eeas/x_en">A new layout</a></div></main></body></html>`), "text/html")
			broken[src.ID] = "no items"
		case "europarl-press":
			fx.ServeAs(es[i].Source.URL, testenv.SourceFixture(t, "europarl-antibot.html"), "text/html")
			broken[src.ID] = "unexpected"
		case "eurlex":
			u, _ := url.Parse(src.URL)
			fx.SetStatus(u.Path, 404, []byte("<html><head><title>Page not found</title></head></html>"), "text/html", nil)
			broken[src.ID] = "http-status"
		}
	}
	checks := Verify(context.Background(), fetcher(t), srcs, time.UTC)
	if len(checks) != len(srcs) {
		t.Fatalf("%d checks for %d sources", len(checks), len(srcs))
	}
	for _, c := range checks {
		want, isBroken := broken[c.Source.ID]
		switch {
		case isBroken && (c.OK() || !strings.Contains(c.Problem, want)):
			t.Errorf("%s: problem %q, want one saying %q", c.Source.ID, c.Problem, want)
		case !isBroken && !c.OK():
			t.Errorf("%s: %s", c.Source.ID, c.Problem)
		case !isBroken && (c.Items == 0 || c.Newest.IsZero()):
			t.Errorf("%s: %d items, newest %s", c.Source.ID, c.Items, c.Newest)
		}
	}
}

func TestSelectAndFilter(t *testing.T) {
	es := entries(t)
	eu := Filter(es, "eu", "", "")
	if len(eu) != 10 {
		t.Errorf("%d EU entries, want 10", len(eu))
	}
	if de := Filter(es, "", "", "de"); len(de) != 1 || de[0].Source.ID != "auswaertiges-amt" {
		t.Errorf("German entries: %+v", de)
	}
	if cs := Filter(es, "", KindCivilSociety, ""); len(cs) != 3 {
		t.Errorf("%d civil-society entries, want 3", len(cs))
	}
	sel, err := Select(es, []string{"uk", "nato-news", "uk", "civil-society"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range sel {
		ids = append(ids, e.Source.ID)
	}
	if got := strings.Join(ids, " "); got != "govuk-fcdo govuk-dsit nato-news tech-accord paris-call gfce-news" {
		t.Errorf("selected %s", got)
	}
	if _, err := Select(es, []string{"eu", "mars"}); err == nil || !strings.Contains(err.Error(), `"mars"`) || !strings.Contains(err.Error(), "regions: au, ca, de, ee, eu") {
		t.Errorf("unknown name: %v", err)
	}
}
