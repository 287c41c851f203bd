package e2eharness

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"time"
)

// FeedItem is one entry of a generated RSS feed.
type FeedItem struct {
	Title       string
	Link        string
	Description string
	Published   time.Time
}

// RSS writes an RSS 2.0 feed of items, escaped as a publisher would.
func RSS(title, link string, items []FeedItem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<rss version="2.0"><channel>`)
	fmt.Fprintf(&b, "<title>%s</title><link>%s</link><description>%s</description>", esc(title), esc(link), esc(title))
	for _, it := range items {
		fmt.Fprintf(&b, "\n<item><title>%s</title><link>%s</link><guid isPermaLink=\"true\">%s</guid><description>%s</description><pubDate>%s</pubDate></item>",
			esc(it.Title), esc(it.Link), esc(it.Link), esc(it.Description), it.Published.UTC().Format(time.RFC1123Z))
	}
	b.WriteString("\n</channel></rss>\n")
	return b.Bytes()
}

// NumberedItems makes n distinct items "PREFIX 1" … "PREFIX n", each with
// its own link under base, published one minute apart ending at last.
func NumberedItems(prefix, base string, n int, last time.Time) []FeedItem {
	items := make([]FeedItem, n)
	for i := range n {
		items[i] = FeedItem{
			Title:       fmt.Sprintf("%s %d", prefix, i+1),
			Link:        fmt.Sprintf("%s/%d", base, i+1),
			Description: fmt.Sprintf("Item number %d of the %s series about cyber diplomacy.", i+1, prefix),
			Published:   last.Add(-time.Duration(n-1-i) * time.Minute),
		}
	}
	return items
}

// RSSContentType is what a feed is served as.
const RSSContentType = "application/rss+xml; charset=utf-8"

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
