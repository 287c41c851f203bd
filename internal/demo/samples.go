package demo

import (
	"bytes"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/policywire/policywire/config"
)

// sampleFiles are copies of what the real sources publish, in their own
// formats and with their own quirks. Dates are written as {{ago "2d3h"
// "rfc3339" "Europe/Brussels"}}: a time before the demo's clock, so the
// stories are always recent and recent sources alert.
//
//go:embed samples/*
var sampleFiles embed.FS

// sample is one bundled source: how the demo config names it and which file
// the loopback server answers with at which path.
type sample struct {
	ID, Name    string
	Type        string // config.TypeFeed or config.TypeHTML
	Path        string // served at this path
	File        string // under samples/
	ContentType string
	HTML        *config.HTMLSource
}

// samples are the five demo sources, in the order they are polled and shown.
func samples() []sample {
	return []sample{
		{
			ID: "council-press", Name: "Council of the EU – press releases", Type: config.TypeFeed,
			Path: "/en/rss/pressreleases.ashx", File: "council-press.rss",
			ContentType: "application/rss+xml; charset=utf-8",
		},
		{
			ID: "eeas-press", Name: "EEAS – press material", Type: config.TypeHTML,
			Path: "/eeas/press-material_en", File: "eeas-press.html",
			ContentType: "text/html; charset=UTF-8",
			HTML: &config.HTMLSource{
				Item:       ".view-content .card",
				Title:      "h3.card-title a",
				Link:       "h3.card-title a@href",
				Date:       ".card-footer.node__meta",
				DateFormat: "02.01.2006",
				Summary:    ".card-text",
			},
		},
		{
			ID: "state-press", Name: "US Department of State – press releases", Type: config.TypeFeed,
			Path: "/rss-feed/press-releases/feed/", File: "state-press.rss",
			ContentType: "application/rss+xml; charset=UTF-8",
		},
		{
			ID: "govuk-fcdo", Name: "GOV.UK – Foreign, Commonwealth & Development Office", Type: config.TypeFeed,
			Path: "/government/organisations/foreign-commonwealth-development-office.atom", File: "govuk-fcdo.atom",
			ContentType: "application/atom+xml; charset=utf-8",
		},
		{
			ID: "tech-accord", Name: "Cybersecurity Tech Accord – news", Type: config.TypeFeed,
			Path: "/category/news/feed/", File: "techaccord-news.rss",
			ContentType: "application/rss+xml; charset=UTF-8",
		},
	}
}

// dateLayout is the date shape a sample names.
func dateLayout(name string) (string, bool) {
	switch name {
	case "rfc3339": // Atom, .NET a10:updated
		return time.RFC3339, true
	case "rfc1123z": // RSS pubDate
		return time.RFC1123Z, true
	case "dmy": // EEAS card footers
		return "02.01.2006", true
	case "path": // dates inside Council URLs
		return "2006/01/02", true
	case "month": // dates inside State Department URLs
		return "2006/01", true
	}
	return "", false
}

// renderSample fills in the dates of one sample file relative to now.
func renderSample(name string, now time.Time) ([]byte, error) {
	raw, err := sampleFiles.ReadFile("samples/" + name)
	if err != nil {
		return nil, fmt.Errorf("demo: sample %s: %w", name, err)
	}
	zones := map[string]*time.Location{}
	funcs := template.FuncMap{
		"ago": func(offset, layout string, zone ...string) (string, error) {
			d, err := parseOffset(offset)
			if err != nil {
				return "", err
			}
			l, ok := dateLayout(layout)
			if !ok {
				return "", fmt.Errorf("unknown date layout %q", layout)
			}
			loc := time.UTC
			if len(zone) > 0 {
				if loc = zones[zone[0]]; loc == nil {
					if loc, err = time.LoadLocation(zone[0]); err != nil {
						return "", err
					}
					zones[zone[0]] = loc
				}
			}
			return now.Add(-d).In(loc).Format(l), nil
		},
	}
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("demo: sample %s: %w", name, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, nil); err != nil {
		return nil, fmt.Errorf("demo: sample %s: %w", name, err)
	}
	return out.Bytes(), nil
}

// parseOffset reads "1d20h", "36h" or "15d": a Go duration, optionally
// led by a number of days.
func parseOffset(s string) (time.Duration, error) {
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad offset %q", s)
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if rest == "" {
		return days, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad offset %q", s)
	}
	return days + d, nil
}
