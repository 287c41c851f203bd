package query

import (
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// TestTimeFilters matches items of known dates against each time filter,
// with a fixed clock in Brussels, whose calendar days the dates name.
func TestTimeFilters(t *testing.T) {
	brussels, err := time.LoadLocation("Europe/Brussels")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, brussels)
	at := func(y int, m time.Month, d, h int) policywire.Item {
		return policywire.Item{Title: "cyber", Published: time.Date(y, m, d, h, 0, 0, 0, brussels)}
	}
	items := map[string]policywire.Item{
		"1h ago":          at(2026, 11, 20, 11),
		"13h ago":         at(2026, 11, 19, 23),
		"6d ago":          at(2026, 11, 14, 12),
		"8d ago":          at(2026, 11, 12, 12),
		"1 Nov midnight":  at(2026, 11, 1, 0),
		"31 Oct 23h":      at(2026, 10, 31, 23),
		"5 Nov":           at(2026, 11, 5, 9),
		"1 Jan":           at(2026, 1, 1, 0),
		"31 Dec 2025":     at(2025, 12, 31, 23),
		"30 Jun":          at(2026, 6, 30, 8),
		"29 Jun":          at(2026, 6, 29, 8),
		"no date":         {Title: "cyber"},
		"updated 2d back": {Title: "cyber", Updated: now.Add(-48 * time.Hour)},
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"since:12h", []string{"1h ago"}},
		{"cyber since:7d", []string{"1h ago", "13h ago", "6d ago", "updated 2d back"}},
		{"since:1w", []string{"1h ago", "13h ago", "6d ago", "updated 2d back"}},
		{"date:2026-11", []string{"1h ago", "13h ago", "6d ago", "8d ago", "1 Nov midnight", "5 Nov", "updated 2d back"}},
		{"date:2026-11-05", []string{"5 Nov"}},
		{"date:2025", []string{"31 Dec 2025"}},
		{"after:2026-11-19", []string{"1h ago", "13h ago"}},
		{"before:2026-01-01", []string{"31 Dec 2025"}},
		{"after:2026-01-01 before:2026-06-30", []string{"1 Jan", "29 Jun"}},
		{"since:2026-11-19", []string{"1h ago", "13h ago"}},
		{"after:2026-11-19 before:2026-11-01", nil},
		{"-cyber since:7d", nil},
	}
	for _, tc := range cases {
		q, err := Parse(tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		want := map[string]bool{}
		for _, w := range tc.want {
			want[w] = true
		}
		for name, it := range items {
			if got := q.MatchAt(Prepare(it), now); got != want[name] {
				t.Errorf("%s: item %s: got %v, want %v", tc.q, name, got, want[name])
			}
		}
	}
}

// TestTimeFilterPlaces: a topic takes no time filter, a subscription no
// sort:, and the error names the column of the filter.
func TestTimeFilterPlaces(t *testing.T) {
	_, err := ParseTopic("cyber since:7d")
	se, ok := err.(*SyntaxError)
	if !ok || se.Pos != 7 {
		t.Fatalf("ParseTopic: got %v, want a syntax error at column 7", err)
	}
	if _, err := ParseTopic("cyber OR diplomacy"); err != nil {
		t.Fatal(err)
	}
	q := MustParse("cyber sort:date")
	if err := ForRouting(q); err == nil {
		t.Fatal("ForRouting accepted sort:date")
	}
	if !q.SortByDate() || q.HasTimeFilter() {
		t.Fatal("sort:date is an order, not a filter")
	}
	if err := ForRouting(MustParse("cyber since:2d")); err != nil {
		t.Fatalf("ForRouting refused a time filter: %v", err)
	}
}
