package sources

import (
	"strings"
	"testing"
	"time"
)

func TestJSONGovUKSearchAPI(t *testing.T) {
	items := fixtureItems(t, "govuk-search-api.json", "govuk-search-api")
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	it := items[1]
	if it.URL != "https://www.gov.uk/government/news/uk-appoints-first-technology-envoy-to-the-gulf" {
		t.Errorf("relative link resolved to %q", it.URL)
	}
	// "2026-10-22T15:30:11.000+01:00"
	if got := it.Published.Format(time.RFC3339Nano); got != "2026-10-22T14:30:11Z" {
		t.Errorf("public_timestamp read as %s", got)
	}
}

func TestJSONFederalRegister(t *testing.T) {
	items := fixtureItems(t, "federalregister.json", "federalregister")
	if len(items) != 3 {
		t.Fatalf("%d items, want 3", len(items))
	}
	if items[0].GUID != "2026-22041" || !strings.HasPrefix(items[0].Summary, "The Department of State's Bureau of Cyberspace") {
		t.Errorf("item %+v", items[0])
	}
	// publication_date "2026-11-02" is a day in the configured zone.
	if want := time.Date(2026, 11, 2, 0, 0, 0, 0, fixtureBrussels(t)); !items[0].Published.Equal(want) {
		t.Errorf("published %s, want %s", items[0].Published, want)
	}

	empty, err := Parse(fixtureSources(t)["federalregister"], fixtureBody(t, "federalregister-empty.json"), "", "application/json", time.UTC)
	if err != nil || len(empty) != 0 {
		t.Errorf("zero-count answer without results: %v, %d items", err, len(empty))
	}
}

func TestJSONCommissionLinkTemplate(t *testing.T) {
	items := fixtureItems(t, "commission-presscorner-api.json", "commission-presscorner-api")
	if len(items) != 4 {
		t.Fatalf("%d items, want 4", len(items))
	}
	for i, want := range []string{"ip_26_2110", "ip_26_2100", "statement_26_2001", "mex_26_1987"} {
		if u := "https://ec.europa.eu/commission/presscorner/detail/en/" + want; items[i].URL != u {
			t.Errorf("item %d URL %q, want %q", i, items[i].URL, u)
		}
	}
	if items[0].GUID != "IP/26/2110" || items[0].Language != "en" {
		t.Errorf("GUID %q, language %q", items[0].GUID, items[0].Language)
	}
}

func TestJSONPathsAndValues(t *testing.T) {
	loc := fixtureBrussels(t)
	for _, tc := range []struct {
		name   string
		cfg    JSONOptions
		body   string
		titles []string
		urls   []string
		dates  []string
	}{
		{
			name:   "top-level array",
			cfg:    JSONOptions{Title: "name", Link: "url", Date: "ts"},
			body:   `[{"name":"a","url":"https://example.org/a","ts":1793865600},{"name":"b","url":"/b","ts":"1793865600000"}]`,
			titles: []string{"a", "b"}, urls: []string{"https://example.org/a", "https://example.org/b"},
			dates: []string{"2026-11-05T08:00:00Z", "2026-11-05T08:00:00Z"},
		},
		{
			name:   "nested path with index",
			cfg:    JSONOptions{Items: "data.pages.0.items", Title: "meta.title", Link: "links.0.href", Date: "meta.date", Summary: "body"},
			body:   `{"data":{"pages":[{"items":[{"meta":{"title":"Tech envoy","date":"2026-11-05"},"links":[{"href":"x/1"}],"body":"<p>One &amp; two</p>"}]}]}}`,
			titles: []string{"Tech envoy"}, urls: []string{"https://example.org/api/x/1"}, dates: []string{"2026-11-04T23:00:00Z"},
		},
		{
			name:   "date_format and numbers as titles",
			cfg:    JSONOptions{Items: "r", Title: "n", Link: "u", Date: "d", DateFormat: "20060102"},
			body:   `{"r":[{"n":2027,"u":"https://example.org/n","d":"20261105"}]}`,
			titles: []string{"2027"}, urls: []string{"https://example.org/n"}, dates: []string{"2026-11-04T23:00:00Z"},
		},
		{
			name:   "default title and link keys; undated",
			cfg:    JSONOptions{Items: "items"},
			body:   `{"items":[{"title":"t","link":"https://example.org/t"},{"title":"","url":"https://example.org/skip"}]}`,
			titles: []string{"t"}, urls: []string{"https://example.org/t"}, dates: []string{""},
		},
		{
			name:   "template with a missing value makes no link",
			cfg:    JSONOptions{Items: "items", Title: "title", Link: "https://example.org/d/{ref|lower|slash_to_underscore|urlencode}", GUID: "ref"},
			body:   `{"items":[{"title":"has ref","ref":"IP/26/1 A"},{"title":"no ref"}]}`,
			titles: []string{"has ref", "no ref"}, urls: []string{"https://example.org/d/ip_26_1%20a", ""}, dates: []string{"", ""},
		},
		{"missing array", JSONOptions{Items: "results"}, `{"count":0}`, nil, nil, nil},
		{"null array", JSONOptions{Items: "results"}, `{"results":null}`, nil, nil, nil},
		{"index out of range", JSONOptions{Items: "a.5"}, `{"a":[[]]}`, nil, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			src := Source{ID: "j", Type: TypeJSON, URL: "https://example.org/api/list", JSON: &cfg}
			items, err := Parse(src, []byte(tc.body), src.URL, "application/json", loc)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) != len(tc.titles) {
				t.Fatalf("%d items, want %d: %+v", len(items), len(tc.titles), items)
			}
			for i, it := range items {
				got := ""
				if !it.Published.IsZero() {
					got = it.Published.Format(time.RFC3339)
				}
				if it.Title != tc.titles[i] || it.URL != tc.urls[i] || got != tc.dates[i] {
					t.Errorf("item %d: %q %q %q, want %q %q %q", i, it.Title, it.URL, got, tc.titles[i], tc.urls[i], tc.dates[i])
				}
			}
			if tc.name == "nested path with index" && items[0].Summary != "One & two" {
				t.Errorf("summary %q", items[0].Summary)
			}
		})
	}
}

func TestJSONBadBodies(t *testing.T) {
	src := Source{ID: "j", Type: TypeJSON, URL: "https://example.org/api", JSON: &JSONOptions{Items: "results", Title: "title", Link: "url"}}
	for _, tc := range []struct {
		name, body string
		kind       ErrorKind
		title, msg string
	}{
		{"html page", "<!doctype html><html><head><title>Just a moment...</title></head></html>", KindUnexpected, "Just a moment...", ""},
		{"garbage", "Internal error", KindParse, "", "decode JSON"},
		{"trailing data", `{"results":[]} {"x":1}`, KindParse, "", "after the top-level value"},
		{"items not an array", `{"results":{"title":"x"}}`, KindParse, "", `json.items "results" is an object`},
		{"path through a string", `{"results":"x"}`, KindParse, "", "a string"},
		{"deep nesting", strings.Repeat(`{"a":`, 100000), KindParse, "", "decode JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s := src
			if tc.name == "path through a string" {
				s.JSON = &JSONOptions{Items: "results.0"}
			}
			_, err := Parse(s, []byte(tc.body), "", "", time.UTC)
			se := fetchWantKind(t, err, tc.kind)
			if se.Title != tc.title || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("title %q, error %v", se.Title, err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestJSONHostileTitles(t *testing.T) {
	src := Source{ID: "j", Type: TypeJSON, URL: "https://example.org/api", JSON: &JSONOptions{Title: "t", Link: "u"}}
	body := "[{\"t\":\"Cyber\\u0000 \\u202ediplomacy\\u0007 \xff\xfe\\ud800news\",\"u\":\"https://example.org/a\"}]"
	items, err := Parse(src, []byte(body), "", "", time.UTC)
	if err != nil || len(items) != 1 {
		t.Fatalf("%v, %d items", err, len(items))
	}
	if items[0].Title != "Cyber diplomacy news" {
		t.Errorf("title %q", items[0].Title)
	}
}

func TestCheckLinkTemplate(t *testing.T) {
	for spec, ok := range map[string]bool{
		"link": true,
		"https://ec.europa.eu/commission/presscorner/detail/en/{refCode|lower|slash_to_underscore}": true,
		"https://x.example/{a}/{b|upper|trim}":                                                      true,
		"https://x.example/{a|reverse}":                                                             false,
		"https://x.example/{a":                                                                      false,
		"https://x.example/{|lower}":                                                                false,
	} {
		if err := CheckLinkTemplate(spec); (err == nil) != ok {
			t.Errorf("CheckLinkTemplate(%q) = %v, want ok %v", spec, err, ok)
		}
	}
}

func TestJSONWithBOMOrInUTF16(t *testing.T) {
	src := fixtureSources(t)["federalregister"]
	plain := fixtureBody(t, "federalregister.json")
	want, err := Parse(src, plain, "", "application/json", time.UTC)
	if err != nil || len(want) != 3 {
		t.Fatalf("%v, %d items", err, len(want))
	}
	utf16 := []byte{0xff, 0xfe}
	for _, r := range string(plain) {
		if r > 0xffff {
			t.Fatal("fixture outside the BMP")
		}
		utf16 = append(utf16, byte(r), byte(r>>8))
	}
	for name, body := range map[string][]byte{
		"UTF-8 with a BOM (.NET)": append([]byte("\xef\xbb\xbf"), plain...),
		"UTF-16LE with a BOM":     utf16,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Parse(src, body, "", "application/json; charset=utf-8", time.UTC)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || got[0].Title != want[0].Title || got[2].Summary != want[2].Summary {
				t.Errorf("items differ from the plain body's: %q", itemTitles(got))
			}
		})
	}
}
