package discover

import (
	"mime"
	"net/url"
	"strings"

	"github.com/PuerkitoBio/goquery"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
)

// page is what discovery reads from the HTML of the page.
type page struct {
	doc        *goquery.Document
	base       *url.URL
	title      string
	siteName   string
	lang       string
	alternates []alternate
	// govuk is set by GOV.UK's "govuk:" meta tags, which every page of
	// the site carries whatever its host (mirrors, previews, tests).
	govuk bool
	// wpAPI is the WordPress REST API root from <link rel="https://api.w.org/">.
	wpAPI string
}

// alternate is one <link rel="alternate"> to a feed.
type alternate struct {
	href, title string
	minor       bool // a comments feed: rarely what a policy team follows
}

var feedTypes = map[string]bool{
	"application/rss+xml":   true,
	"application/atom+xml":  true,
	"application/feed+json": true,
	"application/json":      true,
	"application/rdf+xml":   true,
	"text/xml":              true,
	"application/xml":       true,
}

func readPage(body []byte, contentType string, base *url.URL) (*page, error) {
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	p := &page{doc: doc, base: base, title: sources.PageTitle(body)}
	if href, ok := doc.Find("base[href]").First().Attr("href"); ok {
		if b, err := base.Parse(strings.TrimSpace(href)); err == nil {
			p.base = b
		}
	}
	if l, ok := doc.Find("html").First().Attr("lang"); ok {
		p.lang = sources.NormalizeLanguage(l)
	}
	p.siteName, _ = doc.Find(`meta[property="og:site_name"]`).First().Attr("content")
	p.siteName = strings.TrimSpace(p.siteName)
	seen := map[string]bool{}
	doc.Find("link[rel][href]").Each(func(_ int, s *goquery.Selection) {
		rel := strings.Fields(strings.ToLower(s.AttrOr("rel", "")))
		href := strings.TrimSpace(s.AttrOr("href", ""))
		if hasWord(rel, "https://api.w.org/") {
			p.wpAPI = p.resolve(href)
			return
		}
		if !hasWord(rel, "alternate") {
			return
		}
		t, _, _ := mime.ParseMediaType(s.AttrOr("type", ""))
		if !feedTypes[t] {
			return
		}
		abs := p.resolve(href)
		if abs == "" || seen[abs] {
			return
		}
		seen[abs] = true
		title := strings.TrimSpace(s.AttrOr("title", ""))
		lt := strings.ToLower(title + " " + abs)
		minor := strings.Contains(lt, "comment") || strings.Contains(lt, "/comments/")
		p.alternates = append(p.alternates, alternate{href: abs, title: title, minor: minor})
	})
	doc.Find("meta[name]").EachWithBreak(func(_ int, s *goquery.Selection) bool {
		if strings.HasPrefix(strings.ToLower(s.AttrOr("name", "")), "govuk:") {
			p.govuk = true
			return false
		}
		return true
	})
	return p, nil
}

func (p *page) resolve(href string) string {
	if href == "" {
		return ""
	}
	u, err := p.base.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	u.Fragment = ""
	return u.String()
}

func hasWord(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

// siteAPI is a JSON API a recognised publishing system offers.
type siteAPI struct {
	src config.Source
	via string
}

// siteAPIs returns the JSON APIs of the systems the page shows it runs on.
func siteAPIs(p *page, pageURL *url.URL) []siteAPI {
	var out []siteAPI
	origin := pageURL.Scheme + "://" + pageURL.Host
	if p.govuk {
		if q := govukFilter(pageURL); q != "" {
			out = append(out, siteAPI{via: "GOV.UK search API", src: config.Source{
				Type:     config.TypeJSON,
				URL:      origin + "/api/search.json?" + q + "&order=-public_timestamp&count=20",
				Language: "en",
				JSON: &config.JSONSource{
					Items: "results", Title: "title", Link: "link", BaseURL: origin,
					Date: "public_timestamp", Summary: "description",
				},
			}})
		}
	}
	if p.wpAPI != "" {
		root := p.wpAPI
		if !strings.HasSuffix(root, "/") {
			root += "/"
		}
		out = append(out, siteAPI{via: "WordPress REST API", src: config.Source{
			Type:     config.TypeJSON,
			URL:      root + "wp/v2/posts?per_page=20",
			Language: p.lang,
			JSON: &config.JSONSource{
				Items: "", Title: "title.rendered", Link: "link", Date: "date_gmt",
				Summary: "excerpt.rendered", GUID: "id",
			},
		}})
	}
	return out
}

// govukFilter is the search API filter for a GOV.UK page: the
// organisation or world location it is about, or the search it shows.
func govukFilter(u *url.URL) string {
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(parts) >= 3 && parts[0] == "government" && parts[1] == "organisations":
		return "filter_organisations=" + url.QueryEscape(parts[2])
	case len(parts) >= 2 && parts[0] == "world" && parts[1] != "organisations":
		return "filter_world_locations=" + url.QueryEscape(parts[1])
	case len(parts) >= 1 && parts[0] == "search":
		q := u.Query()
		v := url.Values{}
		if k := q.Get("keywords"); k != "" {
			v.Set("q", k)
		}
		for key, vals := range q {
			if strings.HasPrefix(key, "organisations") || strings.HasPrefix(key, "world_locations") || strings.HasPrefix(key, "topics") {
				for _, x := range vals {
					v.Add("filter_"+strings.TrimSuffix(key, "[]"), x)
				}
			}
		}
		return v.Encode()
	}
	return ""
}
