package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSourceYAMLReadsBackAsTheSameSource(t *testing.T) {
	for _, src := range []Source{
		{ID: "a", Name: "A: press # releases", Type: TypeFeed, URL: "https://example.org/feed?x=1&y=2", Schedule: "@every 10m"},
		{ID: "b", Name: "B", Type: TypeHTML, URL: "https://example.org/news", Language: "fr", Schedule: "@hourly",
			HTML: &HTMLSource{Item: ".view-content .card", Title: "h3 a", Link: "h3 a@href", Date: "time@datetime", DateFormat: "02.01.2006", Summary: "p.teaser"}},
		{ID: "c", Name: "C", Type: TypeJSON, URL: "https://example.org/api.json", Schedule: "@every 15m",
			JSON: &JSONSource{Items: "", Title: "title.rendered", Link: "link", BaseURL: "https://example.org", Date: "date_gmt", GUID: "id"}},
	} {
		src.Backfill = DefaultBackfill
		text := "sources:\n" + SourceYAML(src, "a note")
		cfg, err := Parse("x.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%s does not read back: %v\n%s", src.ID, err, text)
		}
		if got := cfg.Sources[0]; !reflect.DeepEqual(got, src) {
			t.Errorf("read back %+v, want %+v\n%s", got, src, text)
		}
	}
}

func TestAppendSourceKeepsTheRestOfTheFile(t *testing.T) {
	item := SourceYAML(Source{ID: "new", Name: "New", URL: "https://example.org/feed"}, "")
	cases := []struct{ name, in, want string }{
		{"at the end of the list, before the next key's comment",
			"a: 1\nsources:\n  - id: old   # keep\n    url: https://example.org/old\n\n# next\nchannels: []\n",
			"a: 1\nsources:\n  - id: old   # keep\n    url: https://example.org/old\n  - id: new\n    name: New\n    url: https://example.org/feed\n\n# next\nchannels: []\n"},
		{"list last in the file, without a final newline",
			"sources:\n- id: old\n  url: https://example.org/old",
			"sources:\n- id: old\n  url: https://example.org/old\n- id: new\n  name: New\n  url: https://example.org/feed\n"},
		{"empty sources key", "sources:\nchannels: []\n",
			"sources:\n  - id: new\n    name: New\n    url: https://example.org/feed\nchannels: []\n"},
		{"no sources key", "# only a comment\na: 1\n",
			"# only a comment\na: 1\nsources:\n  - id: new\n    name: New\n    url: https://example.org/feed\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(c.in), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := AppendSource(path, item); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(path, []byte("sources: [{id: a, url: 'https://example.org'}]\n"), 0o600)
	if err := AppendSource(path, item); err == nil || !strings.Contains(err.Error(), "line 1: sources is not a block list") {
		t.Errorf("a flow list: %v", err)
	}
}
