// Package wiring turns the configuration into the options of the parts that
// must not know the configuration's layout, such as sources. It is the one
// place where a change to config meets those parts.
package wiring

import (
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
)

// Source is what sources needs to read the configured source c. The
// selector and path sets are shared, not copied: neither side changes them.
func Source(c config.Source) sources.Source {
	return sources.Source{
		ID:       c.ID,
		Type:     c.Type,
		URL:      c.URL,
		Language: c.Language,
		HTML:     (*sources.HTMLOptions)(c.HTML),
		JSON:     (*sources.JSONOptions)(c.JSON),
	}
}

// FetcherOptions takes the fetch section of the configuration.
func FetcherOptions(c config.Fetch) sources.FetcherOptions {
	return sources.FetcherOptions{
		UserAgent:    c.UserAgent,
		Timeout:      c.Timeout,
		MaxBytes:     c.MaxBytes,
		Concurrency:  c.Concurrency,
		HostDelay:    c.HostDelay,
		AllowPrivate: c.AllowPrivate,
	}
}
