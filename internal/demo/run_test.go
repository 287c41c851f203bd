package demo

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/query"
)

func TestDemoColour(t *testing.T) {
	out, _ := runDemo(t, Options{Colour: true, Prompt: true, Stdin: strings.NewReader("tech ambassador\n")})
	for _, want := range []string{
		"\x1b[32m✓\x1b[0m council-press",                           // progress tick
		"\x1b[1m▌ Digital diplomacy: Council approves conclusions", // alert title
		"\x1b[32mAlso reported by: EEAS – press material",          // the second source
		"\x1b[1msearch> \x1b[0m",                                   // the prompt
		"\x1b[1mDeputy Secretary’s Meeting with Denmark’s Tech Ambassador\x1b[0m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("colour transcript lacks %q", want)
		}
	}
}

// The samples' dates follow the clock, so the demo alerts the same stories
// whenever it runs.
func TestDemoOnAnyDate(t *testing.T) {
	for _, now := range []time.Time{
		time.Now(),
		time.Date(2031, 3, 5, 23, 59, 0, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC), // year boundary inside the samples
	} {
		out, _ := runDemo(t, Options{Now: func() time.Time { return now }})
		if !strings.Contains(out, "12 alerts to 2 channels from 5 sources.") {
			t.Errorf("at %s: the demo did not deliver its 12 alerts:\n%s", now, out)
		}
	}
}

func TestDemoKeepsDataDirWhenAsked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo-data")
	out, _ := runDemo(t, Options{DataDir: dir})
	if !strings.Contains(out, "12 alerts") || !strings.Contains(out, "kept in "+dir) {
		t.Fatalf("first run:\n%s", out)
	}
	for _, name := range []string{"policywire.db", "index"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("data dir lacks %s: %v", name, err)
		}
	}
	// A second run remembers what it posted: nothing is alerted twice,
	// and the archive still answers searches.
	out, _ = runDemo(t, Options{DataDir: dir, Prompt: true, Stdin: strings.NewReader("\"tech ambassador\"\n")})
	for _, want := range []string{"6 items, 0 new alerts", "0 alerts to 2 channels", "Best matches for \"tech ambassador\":", "Denmark’s Tech Ambassador"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "▌ ") {
		t.Errorf("second run alerted again:\n%s", out)
	}
}

func TestDemoLeavesNothingBehind(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	runDemo(t, Options{})
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("left behind in the temp dir: %s", e.Name())
	}
}

func TestDemoConfigStaysOnThisMachine(t *testing.T) {
	cfg, err := demoConfig("http://127.0.0.1:45678", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 5 || len(cfg.Channels) != 2 || len(cfg.Topics) != 2 {
		t.Fatalf("want 5 sources, 2 channels, 2 topics; got %d, %d, %d", len(cfg.Sources), len(cfg.Channels), len(cfg.Topics))
	}
	for _, s := range cfg.Sources {
		u, err := url.Parse(s.URL)
		if err != nil || u.Hostname() != "127.0.0.1" {
			t.Errorf("source %s is not on loopback: %s", s.ID, s.URL)
		}
		if s.Backfill != 0 {
			t.Errorf("source %s has a backfill of %s; the demo alerts everything recent", s.ID, s.Backfill)
		}
	}
	for _, tp := range cfg.Topics {
		if _, err := query.Parse(tp.Query); err != nil {
			t.Errorf("topic %s: %v", tp.ID, err)
		}
	}
	for _, ch := range cfg.Channels {
		for _, id := range ch.Topics {
			if _, ok := cfg.TopicByID(id); !ok {
				t.Errorf("channel %s names unknown topic %s", ch.ID, id)
			}
		}
		for _, id := range ch.Sources {
			if _, ok := cfg.SourceByID(id); !ok {
				t.Errorf("channel %s names unknown source %s", ch.ID, id)
			}
		}
		if channelNames()[ch.Target()] == "" {
			t.Errorf("channel %s has no display name", ch.ID)
		}
	}
	if !cfg.Fetch.AllowPrivate || cfg.Summary.FetchArticle != "never" {
		t.Errorf("fetch.allow_private %v, summary.fetch_article %q: the demo reads loopback only", cfg.Fetch.AllowPrivate, cfg.Summary.FetchArticle)
	}
}

func TestParseOffset(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "36h", want: 36 * time.Hour},
		{in: "1d20h", want: 44 * time.Hour},
		{in: "15d", want: 360 * time.Hour},
		{in: "2d30m", want: 48*time.Hour + 30*time.Minute},
		{in: "xd", bad: true},
		{in: "-1d", bad: true},
		{in: "1d-2h", bad: true},
		{in: "soon", bad: true},
	} {
		got, err := parseOffset(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("parseOffset(%q) = %s, want an error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("parseOffset(%q) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
}

func TestRenderSampleDates(t *testing.T) {
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	body, err := renderSample("council-press.rss", now)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	// 1d20h before 09:00 UTC on 20 November is 14:00 in Brussels on the 18th.
	for _, want := range []string{"<a10:updated>2026-11-18T14:00:00+01:00</a10:updated>", "/press-releases/2026/11/18/digital-diplomacy-"} {
		if !strings.Contains(s, want) {
			t.Errorf("rendered Council feed lacks %q", want)
		}
	}
	if strings.Contains(s, "{{") || strings.Contains(s, "pubDate") {
		t.Errorf("rendered Council feed has a placeholder left or a pubDate the real feed does not have")
	}
	if _, err := renderSample("missing.rss", now); err == nil {
		t.Error("a missing sample rendered without error")
	}
}

func TestDemoInterruptedBeforeThePass(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	err := Run(ctx, Options{Stdout: &out, Now: fixedNow})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context: %v, want context.Canceled", err)
	}
	if strings.Contains(out.String(), "▌ ") {
		t.Errorf("alerts printed after the interrupt:\n%s", out.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
