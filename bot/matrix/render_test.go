package matrix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
)

func marshalGolden(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return indentJSON(t, m)
}

func TestRenderDigestGolden(t *testing.T) {
	r := newRenderer(brussels(t))
	d := policywire.Digest{ID: "dg-1", Title: "EU desk digest — Friday", Alerts: []policywire.Alert{
		fullAlert(),
		plainAlert(),
		{ID: "x", Item: policywire.Item{Source: "odd-feed", URL: "javascript:alert(1)", Title: "No <link> here @room"}},
	}}
	parts := r.digest(d)
	if len(parts) != 1 {
		t.Fatalf("3 items gave %d parts, want 1", len(parts))
	}
	golden(t, "digest_small.json", marshalGolden(t, parts[0]))
}

func TestRenderBoundsSizes(t *testing.T) {
	r := newRenderer(time.UTC)
	long := strings.Repeat("Très long titre <&> ", 1000)
	a := policywire.Alert{
		ID: "big",
		Item: policywire.Item{
			Source:     strings.Repeat("s", 500),
			URL:        "https://example.org/" + strings.Repeat("&<", 1010),
			Title:      long,
			Summary:    long,
			Published:  time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
			References: make([]string, 500),
		},
		Topics: make([]string, 500),
	}
	for i := range a.Item.References {
		a.Item.References[i] = strings.Repeat("<ref>", 40)
		a.Topics[i] = strings.Repeat("<topic>", 40)
	}
	for range 500 {
		a.Also = append(a.Also, policywire.AlsoReported{SourceName: strings.Repeat("<n>", 50), URL: "https://example.org/" + strings.Repeat("&", 2000)})
	}
	c := r.alert(a)
	if n := jsonSize(c); n > maxAlertEventBytes {
		t.Errorf("alert content is %d bytes, over %d", n, maxAlertEventBytes)
	}
	title, _, _ := strings.Cut(c.Body, "\n")
	if n := utf8.RuneCountInString(title); n != maxTitleRunes || !strings.HasSuffix(title, "…") {
		t.Errorf("title has %d runes ending %q, want %d ending with …", n, title[len(title)-6:], maxTitleRunes)
	}
	checkHTMLInert(t, c.FormattedBody)

	// A normal alert with a long summary keeps everything but cuts the
	// summary.
	b := fullAlert()
	b.Item.Summary = strings.Repeat("word ", 600)
	c = r.alert(b)
	paras := strings.Split(c.Body, "\n\n")
	if len(paras) != 3 || utf8.RuneCountInString(paras[1]) != maxSummaryRunes {
		t.Errorf("body paragraphs %d, summary %d runes; want 3 paragraphs and a %d-rune summary", len(paras), utf8.RuneCountInString(paras[1]), maxSummaryRunes)
	}
	if !strings.Contains(c.Body, "Also reported by: European Commission — Press corner (https://") {
		t.Errorf("also reported by lost:\n%s", c.Body)
	}
}

func TestRenderDigestSplitsOnSize(t *testing.T) {
	r := newRenderer(time.UTC)
	d := policywire.Digest{ID: "big", Title: "Digest"}
	for i := range 100 {
		d.Alerts = append(d.Alerts, policywire.Alert{Item: policywire.Item{
			Source: "src",
			Title:  fmt.Sprintf("%03d ", i) + strings.Repeat("<é>", 100),
			URL:    "https://example.org/" + strings.Repeat("a&", 500),
		}})
	}
	parts := r.digest(d)
	total := 0
	for i, p := range parts {
		if n := jsonSize(p); n > maxDigestEventBytes {
			t.Errorf("part %d is %d bytes, over %d", i, n, maxDigestEventBytes)
		}
		total += strings.Count(p.FormattedBody, "<li>")
	}
	if total != 100 || len(parts) < 3 {
		t.Errorf("%d items in %d parts, want 100 items split by size into several parts", total, len(parts))
	}
}

func TestCleanText(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"white space collapsed", "  a\t\tb\r\n\nc  ", "a b c"},
		{"invisible removed", "a\u200bb\u200dc\u202ed\u202ce\u2066f\u2069g\ufeffh\u00adi", "abcdefghi"},
		{"room ping defused", "hello @room and @Room!", "hello @ room and @ Room!"},
		{"room hidden by zero width", "@\u200broom", "@ room"},
		{"controls become spaces", "a\x00b\x1bc", "a b c"},
		{"invalid UTF-8 becomes space", "a\xffb", "a b"},
		{"markup kept as text", "<b>x</b>", "<b>x</b>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanText(tc.in, 100); got != tc.want {
				t.Errorf("cleanText(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	if got := cleanText("abcdef", 4); got != "abc…" {
		t.Errorf("cut = %q, want abc…", got)
	}
	if got := cleanText("ab   cdef", 4); got != "ab …" && got != "ab…" {
		t.Errorf("cut = %q", got)
	}
}

func TestSafeURL(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"https://ec.europa.eu/a?b=1&c=2", "https://ec.europa.eu/a?b=1&c=2", true},
		{"  http://x.org/  ", "http://x.org/", true},
		{"HTTPS://X.ORG/", "HTTPS://X.ORG/", true},
		{"javascript:alert(1)", "", false},
		{"JaVaScRiPt:alert(1)", "", false},
		{"data:text/html,<script>", "", false},
		{"//x.org/relative", "", false},
		{"/relative", "", false},
		{"https://x.org/a b", "", false},
		{"https://x.org/\u202eevil", "", false},
		{`https://x.org/"><script>`, "https://x.org/%22%3E%3Cscript%3E", true},
		{"https://x.org/@room", "https://x.org/%40room", true},
		{"https://x.org/" + strings.Repeat("a", maxURLBytes), "", false},
	}
	for _, tc := range cases {
		got, ok := safeURL(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("safeURL(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestTxnID(t *testing.T) {
	if got := txnID("a1-cra_deal.2"); got != "pw.a1-cra_deal.2" {
		t.Errorf("txnID of a plain ID = %q", got)
	}
	odd := txnID("u:https://example.org/x?y=1#z")
	if !strings.HasPrefix(odd, "pw-") || len(odd) != 35 || odd != txnID("u:https://example.org/x?y=1#z") {
		t.Errorf("txnID of an ID with URL characters = %q, want a stable hash", odd)
	}
	if txnID("u:https://example.org/x?y=1#z") == txnID("u:https://example.org/x?y=1#y") {
		t.Error("different IDs share a transaction ID")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"12", 12 * time.Second, true},
		{"0", 0, false},
		{"-3", 0, false},
		{"Fri, 27 Nov 2026 12:00:30 GMT", 30 * time.Second, true},
		{"Fri, 27 Nov 2026 11:00:00 GMT", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewValidatesOptions(t *testing.T) {
	good := Options{Homeserver: "https://matrix.example.org", UserID: "@policywire:example.org", AccessToken: "syt_secret"}
	cases := []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no homeserver", func(o *Options) { o.Homeserver = "" }, "homeserver is empty"},
		{"homeserver not a URL", func(o *Options) { o.Homeserver = "matrix.example.org" }, "not an http(s) URL"},
		{"homeserver ftp", func(o *Options) { o.Homeserver = "ftp://matrix.example.org" }, "not an http(s) URL"},
		{"no user", func(o *Options) { o.UserID = "" }, "user_id is empty"},
		{"bad user", func(o *Options) { o.UserID = "policywire" }, `user_id "policywire"`},
		{"no token", func(o *Options) { o.AccessToken = " " }, "access_token is empty"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error containing %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "syt_secret") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
	s, err := New(good)
	if err != nil {
		t.Fatalf("New with good options: %v", err)
	}
	if s.Platform() != "matrix" || s.Client() == nil || s.Client().DefaultHTTPRetries != 0 {
		t.Errorf("sender not set up: platform %q", s.Platform())
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "matrix", good)
	if strings.Contains(logged.String(), "syt_secret") || strings.Contains(fmt.Sprint(good), "syt_secret") || strings.Contains(fmt.Sprintf("%+v", good), "syt_secret") {
		t.Errorf("options show the token: %s / %v", logged.String(), good)
	}
}

func TestSendRejectsBadTargetsAndAlertsWithoutID(t *testing.T) {
	s, err := New(Options{Homeserver: "http://127.0.0.1:1", UserID: "@bot:example.org", AccessToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	for _, room := range []string{"", "#alias:example.org", "room", "!a b:example.org"} {
		if _, err := s.Send(ctx, room, plainAlert()); !strings.Contains(fmt.Sprint(err), "is not a room ID") {
			t.Errorf("Send to %q: %v, want a PermanentError about the room ID", room, err)
		}
	}
	a := plainAlert()
	a.ID = ""
	if _, err := s.Send(ctx, "!r:example.org", a); !strings.Contains(fmt.Sprint(err), "no ID") {
		t.Errorf("Send of an alert without ID: %v", err)
	}
}

// FuzzAlertIsInert renders arbitrary feed text and links and checks the
// result: only allowed HTML, http(s) links, no "@room", bounded size.
func FuzzAlertIsInert(f *testing.F) {
	f.Add(`@room <script>alert(1)</script>`, "javascript:alert(1)", "sum <a href=x>", "https://x.org/\"><b>")
	f.Add("\u202e@\u200broom", "https://x.org/@ROOM", "", "data:,x")
	f.Add("a&amp;b", "http://x.org/?a=1&b=<2>", "&#60;script&#62;", "")
	r := newRenderer(time.UTC)
	f.Fuzz(func(t *testing.T, title, link, summary, alsoURL string) {
		a := policywire.Alert{
			ID:         "fuzz",
			Item:       policywire.Item{Title: title, URL: link, Summary: summary, References: []string{summary}},
			SourceName: title,
			Topics:     []string{title},
			Also:       []policywire.AlsoReported{{SourceName: title, URL: alsoURL}},
		}
		c := r.alert(a)
		checkHTMLInert(t, c.FormattedBody)
		for _, s := range []string{c.Body, c.FormattedBody} {
			if strings.Contains(strings.ToLower(s), "@room") {
				t.Errorf("@room in %q", s)
			}
		}
		if c.Mentions == nil || len(c.Mentions.UserIDs) != 0 || c.Mentions.Room {
			t.Errorf("mentions %+v", c.Mentions)
		}
		if n := jsonSize(c); n > maxAlertEventBytes {
			t.Errorf("%d bytes", n)
		}
		d := r.digest(policywire.Digest{ID: "d", Title: title, Alerts: []policywire.Alert{a}})
		for _, p := range d {
			checkHTMLInert(t, p.FormattedBody)
		}
	})
}

// A link with user info ("https://gov.example@evil.example/") reads as the
// user info and leads to the host: the alert links to the host only, in
// the item's link and in "also reported by".
func TestAlertLinksDropUserInfo(t *testing.T) {
	a := policywire.Alert{ID: "a1", Channel: "room", SourceName: "Council",
		Item: policywire.Item{Title: "Council adopts conclusions", URL: "https://www.consilium.europa.eu@evil.example/press", Published: time.Date(2026, 9, 25, 9, 0, 0, 0, time.UTC)},
		Also: []policywire.AlsoReported{{Source: "eeas", SourceName: "EEAS", URL: "https://eeas.europa.eu:pw@evil.example/also"}}}
	c := newRenderer(time.UTC).alert(a)
	out := c.Body + "\n" + c.FormattedBody
	if strings.Contains(out, "consilium.europa.eu@") || strings.Contains(out, "pw@") {
		t.Errorf("user info kept in the alert:\n%s", out)
	}
	if !strings.Contains(c.FormattedBody, `href="https://evil.example/press"`) {
		t.Errorf("the link should lead, visibly, to its host:\n%s", c.FormattedBody)
	}
}
