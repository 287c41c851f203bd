package index

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// keyID returns the ID of the corpus item whose URL ends with slug+"/".
func keyID(t *testing.T, items []policywire.Item, slug string) string {
	t.Helper()
	for _, it := range items {
		if strings.HasSuffix(it.URL, "/"+slug+"/") {
			return it.ID
		}
	}
	t.Fatalf("no corpus item %s", slug)
	return ""
}

func topIDs(t *testing.T, x *Index, q string, n int) ([]string, []policywire.SearchHit) {
	t.Helper()
	hits, err := x.Search(context.Background(), query.MustParse(q), policywire.SearchOptions{Limit: n})
	if err != nil {
		t.Fatalf("search %s: %v", q, err)
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.Item.ID
	}
	return ids, hits
}

func TestRelevance(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items)
	cases := []struct {
		query string
		top3  []string // slugs that must all be among the first three hits
	}{
		{`digital diplomacy`, []string{"digital-diplomacy-conclusions"}},
		{`cybersécurité`, []string{"cybersecurite-cooperation-franco-allemande"}},
		{`Cyberdiplomatie`, []string{"strategie-cyberdiplomatie", "konferenz-cyberdiplomatie"}},
		{`"tech ambassador"`, []string{"uk-appoints-tech-ambassador"}},
		{`cyber resilience act`, []string{"cyber-resilience-act-final-approval"}},
		{`Fischerei Quoten`, []string{"fangquoten-ostsee-2026"}},
		{`draft budget 2026`, []string{"ip_25_1400"}},
		{`Künstliche Intelligenz`, []string{"kuenstliche-intelligenz-arbeitsplatz"}},
		{`visite Maroc`, []string{"visite-etat-maroc"}},
		{`High Representative Japan`, []string{"high-representative-japan"}},
		{`fishing opportunities Baltic`, []string{"fishing-opportunities-baltic-2026"}},
		{`pêche Méditerranée 2026`, []string{"quotas-mediterranee-2026"}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			ids, hits := topIDs(t, x, tc.query, 3)
			for _, slug := range tc.top3 {
				if !slices.Contains(ids, keyID(t, items, slug)) {
					var got []string
					for _, h := range hits {
						got = append(got, h.Item.Title)
					}
					t.Errorf("%s: %s is not among the first three hits: %q", tc.query, slug, got)
				}
			}
		})
	}
}

// TestRecencyBreaksTies: two items the query weighs the same come newer
// first, and the newest-first order sorts by date alone.
func TestRecencyBreaksTies(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items)
	newer, older := keyID(t, items, "agrifish-2026-01-26"), keyID(t, items, "agrifish-2025-12-15")

	ids, hits := topIDs(t, x, `agriculture fisheries council "main results"`, 10)
	i, j := slices.Index(ids, newer), slices.Index(ids, older)
	if i < 0 || j < 0 {
		t.Fatalf("both council results should be found: %v", ids)
	}
	if i > j {
		t.Errorf("the older results (%d) come before the newer ones (%d)", j, i)
	}
	if hits[i].Score <= hits[j].Score {
		t.Errorf("newer score %v is not above older score %v", hits[i].Score, hits[j].Score)
	}

	// Newest first looks at recent items first; the order must be that
	// of all matches sorted by date, whatever the limit.
	byDate := slices.Clone(items)
	slices.SortStableFunc(byDate, func(a, b policywire.Item) int {
		if c := b.Published.Compare(a.Published); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	for _, limit := range []int{1, 3, 5, 10, 40, 300} {
		hits, err := x.Search(context.Background(), query.MustParse(`NOT zebra`), policywire.SearchOptions{Limit: limit, Newest: true})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for k, h := range hits {
			got = append(got, h.Item.ID)
			want = append(want, byDate[k].ID)
		}
		if len(hits) != min(limit, len(items)) || !slices.Equal(got, want) {
			t.Errorf("newest first, limit %d:\n got %v\nwant %v", limit, got, want)
		}
	}

	hits, err := x.Search(context.Background(), query.MustParse(`council`), policywire.SearchOptions{Limit: 1000, Newest: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) < 10 {
		t.Fatalf("only %d hits for council", len(hits))
	}
	for k := 1; k < len(hits); k++ {
		if hits[k].Item.Published.After(hits[k-1].Item.Published) {
			t.Fatalf("newest first: hit %d (%s) is newer than hit %d (%s)", k, hits[k].Item.Published, k-1, hits[k-1].Item.Published)
		}
	}
}

// TestHitCarriesTheItem: a hit shows what the chat answer needs.
func TestHitCarriesTheItem(t *testing.T) {
	items := corpusItems(t)
	x := openWith(t, items)
	want := items[slices.IndexFunc(items, func(it policywire.Item) bool { return it.ID == keyID(t, items, "ip_25_1400") })]
	_, hits := topIDs(t, x, `ref:IP/25/1400`, 5)
	if len(hits) != 1 {
		t.Fatalf("%d hits, want 1", len(hits))
	}
	got := hits[0].Item
	if got.ID != want.ID || got.Title != want.Title || got.URL != want.URL || got.Source != want.Source ||
		got.Summary != want.Summary || got.Language != want.Language || !got.Published.Equal(want.Published) {
		t.Errorf("hit item = %+v\nwant the stored fields of %+v", got, want)
	}
	if got.Content != "" || got.References != nil {
		t.Errorf("hit item carries fields the index does not store: %+v", got)
	}
}

// TestRankWithoutWords: a query of fields and negations only ranks by date
// over all its matches, and an item without a date comes last.
func TestRankWithoutWords(t *testing.T) {
	items := corpusItems(t)
	undated := policywire.Item{ID: "u:https://example.org/undated", Source: "council-press", Title: "Undated council note"}
	x := openWith(t, append(slices.Clone(items), undated))

	var council []policywire.Item
	for _, it := range items {
		if it.Source == "council-press" {
			council = append(council, it)
		}
	}
	slices.SortFunc(council, func(a, b policywire.Item) int { return b.Published.Compare(a.Published) })
	if len(council) < 20 {
		t.Fatalf("only %d council items in the corpus", len(council))
	}
	ids, _ := topIDs(t, x, `source:council-press`, 3)
	want := []string{council[0].ID, council[1].ID, council[2].ID}
	if !slices.Equal(ids, want) {
		t.Errorf("source:council-press, best 3:\n got %v\nwant %v", ids, want)
	}

	// More matches than the ranking window: still the newest of all.
	all := slices.Clone(items)
	slices.SortFunc(all, func(a, b policywire.Item) int { return b.Published.Compare(a.Published) })
	ids, _ = topIDs(t, x, `NOT zebra`, 3)
	if want := []string{all[0].ID, all[1].ID, all[2].ID}; !slices.Equal(ids, want) {
		t.Errorf("NOT zebra, best 3:\n got %v\nwant %v", ids, want)
	}

	ids, _ = topIDs(t, x, `source:council-press -fisheries`, 1000)
	if len(ids) < 2 || ids[len(ids)-1] != undated.ID {
		t.Errorf("the undated item is not last: %v", ids)
	}
}
