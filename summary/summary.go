// Package summary turns an item into the few sentences a team reads to decide
// whether to open it. It owns reading the article page when the feed says
// little (main text extraction and boilerplate removal), the extractive
// summary (sentence splitting, scoring, whole sentences within a length),
// finding policy references (procedure numbers, COM documents, Council
// documents, CELEX numbers, press codes), and the optional summary by an
// OpenAI-compatible LLM, used only when it is grounded in the text. It knows
// nothing of the store, the sources or the chat platforms: pages come through
// a PageGetter and article texts are remembered through an ArticleCache, both
// supplied by the caller.
package summary

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"golang.org/x/net/html"
)

// PageGetter fetches a web page; the caller's implementation applies the
// hardened fetcher's limits (size, private addresses, per-host delay).
type PageGetter interface {
	GetPage(ctx context.Context, url string) (body []byte, finalURL string, err error)
}

// ArticleCache remembers the extracted text of article pages by URL. An empty
// text is a remembered failure.
type ArticleCache interface {
	Article(url string) (text string, ok bool, err error)
	PutArticle(url, text string) error
}

// The values of summary.fetch_article.
const (
	FetchAuto   = "auto"
	FetchAlways = "always"
	FetchNever  = "never"
)

// DefaultMinOwnText is the length (in characters) under which an item's own
// text is too thin and, with fetch_article auto, the article page is read.
const DefaultMinOwnText = 200

// maxArticleRunes caps the article text kept and cached; summaries come from
// the lead of a text, and the store need not hold whole reports.
const maxArticleRunes = 50000

// Options are what a Summarizer is built from. Pages and Cache may be nil:
// without Pages no article is read, without Cache articles are not remembered.
// Config.LLM.URL, when set, is either a base URL as OpenAI clients take it
// ("http://localhost:8081/v1", to which "/chat/completions" is added) or the
// full chat-completions endpoint.
type Options struct {
	Config config.Summary
	Pages  PageGetter
	Cache  ArticleCache
	// HTTPClient talks to the LLM server (not through the hardened fetcher,
	// which refuses the local addresses such servers usually have).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// MinOwnText is DefaultMinOwnText when 0.
	MinOwnText int
}

// Result is the summary to show for an item and what was found on the way.
type Result struct {
	Summary string
	// References are the policy references of the item's title, text, link
	// and article, normalized, in order of appearance.
	References []string
	// FromArticle is true when the summary was made from the article page.
	FromArticle bool
	// FromLLM is true when the summary was written by the LLM.
	FromLLM bool
}

// Summarizer makes summaries. It is safe for concurrent use.
type Summarizer struct {
	cfg        config.Summary
	pages      PageGetter
	cache      ArticleCache
	httpClient *http.Client
	log        *slog.Logger
	minOwn     int
	maxChars   int
	fetchMode  string

	mu       sync.Mutex
	inflight map[string]*articleFetch
}

// articleFetch lets concurrent summaries of the same page share one fetch.
type articleFetch struct {
	done chan struct{}
	text string
}

// New returns a Summarizer; zero options take their defaults.
func New(o Options) *Summarizer {
	s := &Summarizer{
		cfg:        o.Config,
		pages:      o.Pages,
		cache:      o.Cache,
		httpClient: o.HTTPClient,
		log:        o.Logger,
		minOwn:     o.MinOwnText,
		maxChars:   o.Config.MaxChars,
		fetchMode:  strings.ToLower(strings.TrimSpace(o.Config.FetchArticle)),
		inflight:   map[string]*articleFetch{},
	}
	if s.httpClient == nil {
		s.httpClient = &http.Client{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.minOwn <= 0 {
		s.minOwn = DefaultMinOwnText
	}
	if s.maxChars <= 0 {
		s.maxChars = DefaultMaxChars
	}
	switch s.fetchMode {
	case FetchAuto, FetchAlways, FetchNever:
	case "":
		s.fetchMode = FetchAuto
	default:
		s.log.Warn("summary: unknown fetch_article, using auto", "fetch_article", o.Config.FetchArticle)
		s.fetchMode = FetchAuto
	}
	return s
}

// Summarize returns the summary to show for an item, and the policy
// references found in the item's text and article. topicWords are the words
// of the topics that matched, to weight sentences.
//
// The item's own text (summary and content) is used when it says enough;
// otherwise (fetch_article auto, own text under MinOwnText characters; or
// always) the article page is read once through Pages and remembered in
// Cache, failures included: a page that failed is remembered as "" and not
// fetched again, so one broken link costs one request, ever. A failed fetch
// falls back to the own text. With an LLM configured, its answer replaces the
// extractive summary only when it passes the grounding check; any LLM error
// or timeout (bounded by llm.timeout) leaves the extractive summary.
//
// The error is non-nil only when ctx ends before a summary is made.
func (s *Summarizer) Summarize(ctx context.Context, it policywire.Item, topicWords []string) (Result, error) {
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("summary: %w", err)
	}
	own := ownText(it)
	var res Result
	source := own

	pageURL := it.URL
	if pageURL == "" {
		pageURL = it.CanonicalURL
	}
	var article string
	if s.shouldFetch(own, pageURL) {
		cacheKey := it.CanonicalURL
		if cacheKey == "" {
			cacheKey = pageURL
		}
		article = s.article(ctx, pageURL, cacheKey)
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("summary: reading %s: %w", pageURL, err)
		}
		if utf8.RuneCountInString(article) > utf8.RuneCountInString(own) {
			source = article
			res.FromArticle = true
		}
	}

	res.Summary = Extractive(source, topicWords, s.maxChars)
	if s.cfg.LLM.URL != "" && utf8.RuneCountInString(source) > s.maxChars {
		if text, err := s.llmSummary(ctx, it.Title, source, s.maxChars); err != nil {
			s.log.Warn("summary: LLM summary failed, using the extractive one", "item", pageURL, "err", err)
		} else if err := grounded(text, it.Title+"\n\n"+source); err != nil {
			s.log.Info("summary: LLM summary not grounded in the text, using the extractive one", "item", pageURL, "reason", err)
		} else {
			res.Summary = text
			res.FromLLM = true
		}
	}
	if !res.FromLLM && normalizedWords(res.Summary) == normalizedWords(it.Title) {
		res.Summary = "" // the title alone says it; do not say it twice
		res.FromArticle = false
	}

	refText := []string{it.Title, own, article}
	for _, u := range []string{it.URL, it.CanonicalURL} {
		if d, err := url.PathUnescape(u); err == nil {
			refText = append(refText, d)
		}
	}
	res.References = References(strings.Join(refText, "\n"))
	return res, nil
}

func (s *Summarizer) shouldFetch(own, pageURL string) bool {
	if s.pages == nil || pageURL == "" {
		return false
	}
	switch s.fetchMode {
	case FetchNever:
		return false
	case FetchAlways:
		return true
	default:
		return utf8.RuneCountInString(own) < s.minOwn
	}
}

// article returns the main text of the page at pageURL, from the cache or
// by one fetch; "" when the page cannot be read. Concurrent calls for the same
// page wait for one fetch.
func (s *Summarizer) article(ctx context.Context, pageURL, cacheKey string) string {
	s.mu.Lock()
	if f, ok := s.inflight[cacheKey]; ok {
		s.mu.Unlock()
		select {
		case <-f.done:
			return f.text
		case <-ctx.Done():
			return ""
		}
	}
	f := &articleFetch{done: make(chan struct{})}
	s.inflight[cacheKey] = f
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.inflight, cacheKey)
		s.mu.Unlock()
		close(f.done)
	}()
	f.text = s.readArticle(ctx, pageURL, cacheKey)
	return f.text
}

func (s *Summarizer) readArticle(ctx context.Context, pageURL, cacheKey string) string {
	if s.cache != nil {
		text, ok, err := s.cache.Article(cacheKey)
		if err != nil {
			s.log.Warn("summary: article cache read failed", "url", cacheKey, "err", err)
		} else if ok {
			return text
		}
	}
	body, finalURL, err := s.pages.GetPage(ctx, pageURL)
	if err != nil {
		if ctx.Err() != nil {
			// Our own shutdown or deadline, not the page's fault: try again
			// another time.
			return ""
		}
		s.log.Warn("summary: article page not read; the item's own text is used", "url", pageURL, "err", err)
		s.remember(cacheKey, "")
		return ""
	}
	if finalURL == "" {
		finalURL = pageURL
	}
	text, err := ExtractArticle(body, finalURL)
	if err != nil {
		s.log.Warn("summary: no article text in page; the item's own text is used", "url", finalURL, "err", err)
		s.remember(cacheKey, "")
		return ""
	}
	text = capAtParagraph(text, maxArticleRunes)
	s.remember(cacheKey, text)
	return text
}

func (s *Summarizer) remember(key, text string) {
	if s.cache == nil {
		return
	}
	if err := s.cache.PutArticle(key, text); err != nil {
		s.log.Warn("summary: article cache write failed", "url", key, "err", err)
	}
}

// capAtParagraph keeps the leading paragraphs of text within maxRunes.
func capAtParagraph(text string, maxRunes int) string {
	if utf8.RuneCountInString(text) <= maxRunes {
		return text
	}
	r := []rune(text)[:maxRunes]
	cut := string(r)
	if i := strings.LastIndex(cut, "\n\n"); i > 0 {
		return cut[:i]
	}
	return cut
}

// looksLikeHTML spots markup in a text that should be plain.
var looksLikeHTML = regexp.MustCompile(`(?i)<(p|br|div|span|a|li|ul|ol|strong|em|b|i|h[1-6]|table|img)\b[^>]*>|</(p|div|span|a|li|h[1-6])>`)

// ownText is the item's own text: its summary and content, without saying the
// same thing twice.
func ownText(it policywire.Item) string {
	summary := plain(it.Summary)
	content := plain(it.Content)
	fs, fc := normalizedWords(summary), normalizedWords(content)
	switch {
	case fc == "":
		return summary
	case fs == "":
		return content
	case strings.Contains(fc, fs):
		return content
	case strings.Contains(fs, fc):
		return summary
	default:
		return summary + "\n\n" + content
	}
}

// plain returns s as plain text; items are normalized to plain text, but a
// feed's markup that slipped through is rendered rather than shown.
func plain(s string) string {
	s = strings.TrimSpace(s)
	if !looksLikeHTML.MatchString(s) {
		return s
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return s
	}
	return strings.Join(textBlocks(doc), "\n\n")
}
