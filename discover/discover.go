// Package discover finds the sources a web page offers: the feeds it links
// to, the usual feed paths of its site, the JSON APIs of the publishing
// systems it recognises (GOV.UK, WordPress), and, for a listing page
// without any of these, CSS selectors for the html adapter. Every
// candidate is read with the real adapters before it is proposed, so what
// it yields (items, newest date, languages) is what the bot would get. It
// knows nothing of the database, topics or chat; writing a candidate into
// a config file is config's job.
package discover

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
)

// feedPaths are tried on the page's site, one request each, when the page
// links to no feed of its own.
var feedPaths = []string{"/feed/", "/rss.xml", "/atom.xml", "/?feed=rss2"}

// Candidate is one source found for a page, already read once.
type Candidate struct {
	Source config.Source
	// Via says how it was found: "link rel=alternate", "feed path",
	// "GOV.UK search API", "WordPress REST API", "html selectors".
	Via       string
	Items     int
	Dated     int // items with a date
	Newest    time.Time
	Languages []string // most frequent first
	// Sample holds the first items read, for showing.
	Sample []policywire.Item

	order int // discovery order, the last tie-breaker
	minor bool
	sig   string
}

// Result is what discovery found for one page.
type Result struct {
	URL        string // the page, after redirects
	Title      string
	Candidates []Candidate // best first
	// Tried lists the URLs read that gave nothing usable, with why.
	Tried []string
}

// ErrBlocked is a page that is a WAF, bot-protection or error page.
var ErrBlocked = errors.New("discover: the page is a block or challenge page")

// BlockedError is ErrBlocked with the page's title.
type BlockedError struct {
	URL, Title string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("discover: %s is a block or challenge page (title %q), not the publisher's page; try again later or from another network", e.URL, e.Title)
}

func (e *BlockedError) Is(target error) bool { return target == ErrBlocked }

// Options tune one discovery.
type Options struct {
	// Location reads dates without a zone; UTC when nil.
	Location *time.Location
}

// Discover fetches page and returns every source found for it, best first.
func Discover(ctx context.Context, f *sources.Fetcher, page string, o Options) (*Result, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	resp, err := f.Fetch(ctx, page, sources.Validators{}, sources.AcceptHTML)
	if err != nil {
		var se *sources.Error
		if errors.As(err, &se) && se.Kind == sources.KindStatus && se.Title != "" {
			if _, blocked := sources.ChallengePage([]byte("<title>"+se.Title+"</title>"), "text/html"); blocked {
				return nil, &BlockedError{URL: page, Title: se.Title}
			}
		}
		return nil, fmt.Errorf("discover: %w", err)
	}
	final := resp.URL
	if final == "" {
		final = page
	}
	base, err := url.Parse(final)
	if err != nil {
		return nil, fmt.Errorf("discover: %s: %w", final, err)
	}
	d := &discovery{f: f, o: o, base: base, seenURL: map[string]bool{}, seenSig: map[string]bool{}}
	res := &Result{URL: final, Title: sources.PageTitle(resp.Body)}
	d.res = res

	// A page that is itself a feed is its own candidate.
	if !sources.LooksLikeHTML(resp.Body) {
		d.tryBody(config.Source{URL: final, Type: config.TypeFeed}, "the URL itself", resp, false)
		if len(res.Candidates) > 0 {
			d.rank()
			return res, nil
		}
	}
	p, err := readPage(resp.Body, resp.ContentType, base)
	if err != nil {
		return nil, fmt.Errorf("discover: %s: %w", final, err)
	}
	proposals := proposeSelectors(p)
	if title, blocked := sources.ChallengePage(resp.Body, resp.ContentType); blocked && len(p.alternates) == 0 && len(proposals) == 0 {
		return nil, &BlockedError{URL: final, Title: title}
	}
	d.seenURL[final] = true
	for _, alt := range p.alternates {
		d.tryURL(ctx, config.Source{URL: alt.href, Name: alt.title, Type: config.TypeFeed}, "link rel=alternate", alt.minor)
	}
	if len(p.alternates) == 0 {
		for _, path := range feedPaths {
			ref, _ := url.Parse(path)
			d.tryURL(ctx, config.Source{URL: base.ResolveReference(ref).String(), Type: config.TypeFeed}, "feed path", false)
		}
	}
	for _, api := range siteAPIs(p, base) {
		d.tryURL(ctx, api.src, api.via, false)
	}
	// Selectors are proposed only for a listing that offers nothing better.
	if len(res.Candidates) == 0 {
		for _, h := range proposals {
			src := config.Source{URL: final, Type: config.TypeHTML, HTML: h, Language: p.lang}
			d.tryBody(src, "html selectors", resp, false)
		}
	}
	d.name(p)
	d.rank()
	return res, nil
}

type discovery struct {
	f       *sources.Fetcher
	o       Options
	base    *url.URL
	res     *Result
	seenURL map[string]bool
	seenSig map[string]bool
	n       int
}

// tryURL fetches one candidate URL (once) and keeps it when it parses
// into items.
func (d *discovery) tryURL(ctx context.Context, src config.Source, via string, minor bool) {
	if d.seenURL[src.URL] {
		return
	}
	d.seenURL[src.URL] = true
	resp, err := d.f.Fetch(ctx, src.URL, sources.Validators{}, sources.AcceptFor(src.Type))
	if err != nil {
		d.res.Tried = append(d.res.Tried, fmt.Sprintf("%s: %v", src.URL, sourcesReason(err)))
		return
	}
	if resp.URL != "" && resp.URL != src.URL {
		if d.seenURL[resp.URL] {
			return
		}
		d.seenURL[resp.URL] = true
	}
	d.tryBody(src, via, resp, minor)
}

// tryBody parses a body already fetched for src.
func (d *discovery) tryBody(src config.Source, via string, resp *sources.Response, minor bool) {
	src.ID = "candidate"
	items, err := sources.Parse(wiring.Source(src), resp.Body, resp.URL, resp.ContentType, d.o.Location)
	if err != nil {
		d.res.Tried = append(d.res.Tried, fmt.Sprintf("%s: %v", src.URL, sourcesReason(err)))
		return
	}
	if len(items) == 0 {
		d.res.Tried = append(d.res.Tried, src.URL+": no items")
		return
	}
	// The same feed under two URLs (/feed/ and ?feed=rss2), or two
	// selector sets reading the same items, are one source.
	sig := itemSignature(items)
	if d.seenSig[sig] {
		return
	}
	d.seenSig[sig] = true
	c := Candidate{Source: src, Via: via, Items: len(items), order: d.n, minor: minor, sig: sig}
	d.n++
	langs := map[string]int{}
	for _, it := range items {
		if t := it.Date(); !t.IsZero() {
			c.Dated++
			if t.After(c.Newest) {
				c.Newest = t
			}
		}
		if it.Language != "" {
			langs[it.Language]++
		}
	}
	for l := range langs {
		c.Languages = append(c.Languages, l)
	}
	sort.Slice(c.Languages, func(i, j int) bool {
		a, b := c.Languages[i], c.Languages[j]
		if langs[a] != langs[b] {
			return langs[a] > langs[b]
		}
		return a < b
	})
	if len(items) > 3 {
		items = items[:3]
	}
	c.Sample = items
	d.res.Candidates = append(d.res.Candidates, c)
}

// sourcesReason is a fetch or parse error without the package prefix.
func sourcesReason(err error) string {
	return strings.TrimPrefix(err.Error(), "sources: ")
}

func itemSignature(items []policywire.Item) string {
	h := sha256.New()
	for _, it := range items {
		h.Write([]byte(it.URL))
		h.Write([]byte{0})
	}
	return string(h.Sum(nil))
}

// rank orders the candidates best first: sources that yield items for
// the page's main subject (not comments feeds) before minor ones, then
// the most recent newest item (by day), then feeds before APIs before
// selectors, then the most items with a date, the most items, and the
// order found.
func (d *discovery) rank() {
	kind := func(c Candidate) int {
		switch c.Source.Type {
		case config.TypeFeed:
			return 0
		case config.TypeJSON:
			return 1
		}
		return 2
	}
	cs := d.res.Candidates
	sort.SliceStable(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.minor != b.minor {
			return !a.minor
		}
		da, db := a.Newest.UTC().Truncate(24*time.Hour), b.Newest.UTC().Truncate(24*time.Hour)
		if !da.Equal(db) {
			return da.After(db)
		}
		if kind(a) != kind(b) {
			return kind(a) < kind(b)
		}
		if a.Dated != b.Dated {
			return a.Dated > b.Dated
		}
		if a.Items != b.Items {
			return a.Items > b.Items
		}
		return a.order < b.order
	})
}

// name gives every candidate an id and a name from the site and what it is.
func (d *discovery) name(p *page) {
	host := strings.TrimPrefix(strings.ToLower(d.base.Hostname()), "www.")
	stem := idStem(host)
	siteName := p.siteName
	if siteName == "" {
		siteName = p.title
	}
	used := map[string]int{}
	for i := range d.res.Candidates {
		c := &d.res.Candidates[i]
		suffix := map[string]string{config.TypeFeed: "feed", config.TypeJSON: "api", config.TypeHTML: "page"}[c.Source.Type]
		id := stem + "-" + suffix
		used[id]++
		if used[id] > 1 {
			id = fmt.Sprintf("%s-%d", id, used[id])
		}
		c.Source.ID = id
		if c.Source.Name == "" {
			c.Source.Name = siteName
			switch c.Source.Type {
			case config.TypeJSON:
				c.Source.Name = strings.TrimSpace(siteName + " (" + c.Via + ")")
			case config.TypeHTML:
				c.Source.Name = strings.TrimSpace(siteName + " (web page)")
			}
		}
		if strings.TrimSpace(c.Source.Name) == "" {
			c.Source.Name = host
		}
	}
}

// idStem makes a config id out of a host name.
func idStem(host string) string {
	var b bytes.Buffer
	dash := false
	for _, r := range host {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == "" {
		return "site"
	}
	return s
}
