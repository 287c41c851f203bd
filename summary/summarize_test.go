package summary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
)

// httpPages is a PageGetter over net/http, as the integrator's fetcher is.
type httpPages struct{ client *http.Client }

func (p httpPages) GetPage(ctx context.Context, u string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 2<<20))
	if err != nil {
		return nil, "", err
	}
	return body, resp.Request.URL.String(), nil
}

// mapCache is an ArticleCache in memory.
type mapCache struct {
	mu sync.Mutex
	m  map[string]string
}

func newMapCache() *mapCache { return &mapCache{m: map[string]string{}} }

func (c *mapCache) Article(u string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.m[u]
	return t, ok, nil
}

func (c *mapCache) PutArticle(u, text string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[u] = text
	return nil
}

func (c *mapCache) get(u string) (string, bool) {
	t, ok, _ := c.Article(u)
	return t, ok
}

// pageServer serves the saved article pages and counts requests by path.
type pageServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newPageServer(t *testing.T) *pageServer {
	t.Helper()
	ps := &pageServer{hits: map[string]int{}}
	mux := http.NewServeMux()
	for _, f := range articleFixtures {
		body, err := os.ReadFile(filepath.Join("testdata", "articles", f.name+".html"))
		if err != nil {
			t.Fatal(err)
		}
		mux.HandleFunc("/"+f.name, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("slow") != "" {
				time.Sleep(50 * time.Millisecond) // lets concurrent callers meet
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(body)
		})
	}
	mux.HandleFunc("/old-link", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/state-cyberspace-bureau", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/pdf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.7\n1 0 obj\n"))
	})
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.hits[r.URL.Path]++
		ps.mu.Unlock()
		mux.ServeHTTP(w, r) // unknown paths answer 404
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *pageServer) hitsOf(path string) int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.hits[path]
}

func (ps *pageServer) total() int {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	n := 0
	for _, h := range ps.hits {
		n += h
	}
	return n
}

func newTestSummarizer(ps *pageServer, cache ArticleCache, fetch string) *Summarizer {
	return New(Options{
		Config: config.Summary{MaxChars: 400, FetchArticle: fetch},
		Pages:  httpPages{client: ps.Client()},
		Cache:  cache,
	})
}

const councilShortText = "The Council approved conclusions on EU digital diplomacy."

func councilItem(ps *pageServer) policywire.Item {
	u := ps.URL + "/council-digital-diplomacy"
	return policywire.Item{
		Source:       "council",
		URL:          u,
		CanonicalURL: u,
		Title:        "Digital diplomacy: Council approves conclusions",
		Summary:      councilShortText,
	}
}

func TestSummarizeShortOwnTextReadsTheArticleOnce(t *testing.T) {
	ps := newPageServer(t)
	cache := newMapCache()
	s := newTestSummarizer(ps, cache, FetchAuto)
	it := councilItem(ps)
	topics := []string{"digital", "diplomacy"}

	first, err := s.Summarize(context.Background(), it, topics)
	if err != nil {
		t.Fatal(err)
	}
	if !first.FromArticle || first.FromLLM {
		t.Errorf("FromArticle=%v FromLLM=%v, want article and no LLM", first.FromArticle, first.FromLLM)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "golden", "council-digital-diplomacy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if first.Summary != strings.TrimSpace(string(want)) {
		t.Errorf("summary = %q, want the golden article summary %q", first.Summary, want)
	}
	if !slices.Contains(first.References, "ST 11406/22") || !slices.Contains(first.References, "JOIN(2021) 30 final") {
		t.Errorf("references = %q, want the article's ST 11406/22 and JOIN(2021) 30 final", first.References)
	}
	if n := ps.hitsOf("/council-digital-diplomacy"); n != 1 {
		t.Fatalf("article requested %d times, want 1", n)
	}
	if text, ok := cache.get(it.CanonicalURL); !ok || !strings.HasPrefix(text, "The Council today approved conclusions") {
		t.Errorf("cache holds %q (%v), want the article text", text, ok)
	}

	second, err := s.Summarize(context.Background(), it, topics)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.References, first.References) || second.Summary != first.Summary || !second.FromArticle {
		t.Errorf("second summary differs: %+v vs %+v", second, first)
	}
	// A new Summarizer over the same cache, as after a restart.
	third, err := newTestSummarizer(ps, cache, FetchAuto).Summarize(context.Background(), it, topics)
	if err != nil {
		t.Fatal(err)
	}
	if third.Summary != first.Summary {
		t.Errorf("summary after restart = %q", third.Summary)
	}
	if n := ps.total(); n != 1 {
		t.Errorf("%d requests in all, want the single first one", n)
	}
}

func TestSummarizeLongOwnTextDoesNotFetch(t *testing.T) {
	ps := newPageServer(t)
	cache := newMapCache()
	s := newTestSummarizer(ps, cache, FetchAuto)
	it := councilItem(ps)
	it.Summary = "The Council approved conclusions on EU digital diplomacy. They set out how the EU and its member states " +
		"will promote their values in the digital world, with a network of digital diplomats in EU delegations. " +
		"The Commission will report on progress by the end of 2023 (see ST 11406/22)."
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps.total() != 0 {
		t.Errorf("%d requests for an item that says enough", ps.total())
	}
	if res.FromArticle || res.Summary != strings.Join(SplitSentences(it.Summary), " ") {
		t.Errorf("got %+v, want the own text whole", res)
	}
	if !slices.Equal(res.References, []string{"ST 11406/22"}) {
		t.Errorf("references = %q", res.References)
	}
	if len(cache.m) != 0 {
		t.Errorf("cache written without a fetch: %v", cache.m)
	}
}

func TestSummarizeNeverFetches(t *testing.T) {
	ps := newPageServer(t)
	s := newTestSummarizer(ps, newMapCache(), FetchNever)
	it := councilItem(ps)
	it.Title = "Minister's agenda"
	it.Summary = "Travelling to Berlin."
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps.total() != 0 {
		t.Errorf("fetch_article never made %d requests", ps.total())
	}
	if res.Summary != "Travelling to Berlin." || res.FromArticle {
		t.Errorf("got %+v, want the own text", res)
	}
}

func TestSummarizeAlwaysFetchesAndPrefersTheLongerArticle(t *testing.T) {
	ps := newPageServer(t)
	s := newTestSummarizer(ps, newMapCache(), FetchAlways)
	it := councilItem(ps)
	it.Summary = strings.Repeat("The Council approved conclusions on EU digital diplomacy in Brussels today. ", 3)
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps.hitsOf("/council-digital-diplomacy") != 1 || !res.FromArticle {
		t.Errorf("always: %d requests, FromArticle %v", ps.hitsOf("/council-digital-diplomacy"), res.FromArticle)
	}
}

func TestSummarizeFailedPageFallsBackAndIsNotFetchedAgain(t *testing.T) {
	for _, path := range []string{"/gone", "/pdf"} {
		t.Run(path, func(t *testing.T) {
			ps := newPageServer(t)
			cache := newMapCache()
			s := newTestSummarizer(ps, cache, FetchAuto)
			it := policywire.Item{Source: "council", URL: ps.URL + path, Title: "Visit", Summary: "The President travels to Berlin for talks with the Chancellor."}
			for range 2 {
				res, err := s.Summarize(context.Background(), it, nil)
				if err != nil {
					t.Fatal(err)
				}
				if res.Summary != it.Summary || res.FromArticle {
					t.Errorf("got %+v, want the own text", res)
				}
			}
			if n := ps.hitsOf(path); n != 1 {
				t.Errorf("failing page requested %d times, want 1", n)
			}
			if text, ok := cache.get(it.URL); !ok || text != "" {
				t.Errorf("failure not remembered: %q %v", text, ok)
			}
		})
	}
}

func TestSummarizeFollowsRedirects(t *testing.T) {
	ps := newPageServer(t)
	s := newTestSummarizer(ps, newMapCache(), FetchAuto)
	it := policywire.Item{Source: "state", URL: ps.URL + "/old-link", Title: "Establishment of the Bureau of Cyberspace and Digital Policy"}
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FromArticle || !strings.HasPrefix(res.Summary, "The U.S. Department of State today launched the Bureau") {
		t.Errorf("got %+v", res)
	}
}

func TestSummarizeCancelledIsNotRemembered(t *testing.T) {
	ps := newPageServer(t)
	cache := newMapCache()
	s := newTestSummarizer(ps, cache, FetchAuto)
	it := policywire.Item{Source: "x", URL: ps.URL + "/hang", Title: "Slow page", Summary: "Short."}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Summarize(ctx, it, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if _, ok := cache.get(it.URL); ok {
		t.Error("a fetch we cancelled was remembered as a failure of the page")
	}
}

func TestSummarizeConcurrentCallsShareOneFetch(t *testing.T) {
	ps := newPageServer(t)
	s := newTestSummarizer(ps, newMapCache(), FetchAuto)
	it := councilItem(ps)
	it.URL += "?slow=1"
	it.CanonicalURL = it.URL
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Summarize(context.Background(), it, nil)
			if err != nil {
				t.Error(err)
			}
			results[i] = res
		}()
	}
	wg.Wait()
	if n := ps.hitsOf("/council-digital-diplomacy"); n != 1 {
		t.Errorf("%d requests for 8 concurrent summaries, want 1", n)
	}
	for _, r := range results {
		if r.Summary != results[0].Summary || !r.FromArticle {
			t.Errorf("concurrent results differ: %+v", r)
		}
	}
}

func TestSummarizeEmptyDescriptionKeepsLinkReferences(t *testing.T) {
	ps := newPageServer(t)
	s := newTestSummarizer(ps, newMapCache(), FetchAuto)
	// EUR-Lex: empty description, CELEX number only in the (escaped) link,
	// and a page that cannot be read.
	it := policywire.Item{
		Source: "eurlex",
		URL:    ps.URL + "/legal-content/EN/TXT/?uri=CELEX%3A32022R2065",
		Title:  "Regulation (EU) 2022/2065 on a Single Market For Digital Services",
	}
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "" {
		t.Errorf("summary = %q, want none rather than the title again", res.Summary)
	}
	if !slices.Equal(res.References, []string{"32022R2065"}) {
		t.Errorf("references = %q", res.References)
	}
}

func TestSummarizeDoesNotRepeatTheTitle(t *testing.T) {
	s := New(Options{Config: config.Summary{FetchArticle: FetchNever}})
	it := policywire.Item{Title: "Travelling to Berlin", Summary: "Travelling to Berlin."}
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "" {
		t.Errorf("summary = %q, want none", res.Summary)
	}
}

func TestSummarizeRendersStrayMarkup(t *testing.T) {
	s := New(Options{Config: config.Summary{FetchArticle: FetchNever}})
	it := policywire.Item{Title: "Bureau", Content: "<p>The bureau opened <strong>today</strong> in Washington.</p><p>It has three units.</p>"}
	res, err := s.Summarize(context.Background(), it, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary != "The bureau opened today in Washington. It has three units." {
		t.Errorf("summary = %q", res.Summary)
	}
}
