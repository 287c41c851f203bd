package packs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// The goal every pack must reach on the labelled set.
const (
	minPrecision = 0.90
	minRecall    = 0.85
)

// packLanguages are the languages every pack must speak.
var packLanguages = []string{"en", "fr", "de", "es", "it", "nl", "pl", "pt"}

type labelled struct {
	ID      string   `json:"id"`
	Lang    string   `json:"lang"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Packs   []string `json:"packs"`
}

func readLabelled(t *testing.T, name string) []labelled {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l labelled
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("labelled.jsonl:%d: %v", n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEveryPackSpeaksEveryLanguageAndParses(t *testing.T) {
	all := All()
	if len(all) != 9 {
		t.Errorf("%d packs, want 9", len(all))
	}
	for _, p := range all {
		if p.Description == "" {
			t.Errorf("%s has no description", p.Name)
		}
		for _, l := range packLanguages {
			q, ok := p.Languages[l]
			if !ok || strings.TrimSpace(q) == "" {
				t.Errorf("%s has no %s query", p.Name, l)
				continue
			}
			if _, err := query.Parse(q); err != nil {
				t.Errorf("%s (%s): %v", p.Name, l, err)
			}
		}
		if _, err := query.Parse(p.Query()); err != nil {
			t.Errorf("%s: the combined query: %v", p.Name, err)
		}
	}
}

// TestPacksPrecisionAndRecall measures every pack on the hand-labelled
// policy-news items and fails when a pack falls below the goal. Run with
// -v to see the table (it is the one in the README) and each miss.
func TestPacksPrecisionAndRecall(t *testing.T) {
	items := readLabelled(t, "labelled.jsonl")
	if len(items) < 400 {
		t.Fatalf("%d labelled items, want at least 400", len(items))
	}
	measure(t, items, minPrecision, minRecall, 40)
}

// TestPacksOnHeldOutItems measures the packs on items written after the
// packs and never used to tune them: the honest estimate of how they do
// on news they have not seen. Its floor is lower than the goal and only
// catches a pack that breaks.
func TestPacksOnHeldOutItems(t *testing.T) {
	measure(t, readLabelled(t, "holdout.jsonl"), 0.75, 0.6, 6)
}

// measure matches every pack against the items, logs the table of
// precision and recall, and fails a pack below the given floors.
func measure(t *testing.T, items []labelled, floorPrecision, floorRecall float64, minPerLanguage int) {
	t.Helper()
	langs := map[string]int{}
	known := map[string]bool{}
	for _, p := range All() {
		known[p.Name] = true
	}
	docs := make([]*query.Doc, len(items))
	for i, it := range items {
		langs[it.Lang]++
		for _, p := range it.Packs {
			if !known[p] {
				t.Fatalf("%s is labelled with unknown pack %q", it.ID, p)
			}
		}
		docs[i] = query.Prepare(policywire.Item{Title: it.Title, Summary: it.Summary, Language: it.Lang})
	}
	for _, l := range packLanguages {
		if langs[l] < minPerLanguage {
			t.Errorf("only %d labelled items in %s", langs[l], l)
		}
	}

	var table strings.Builder
	fmt.Fprintf(&table, "| pack | items labelled | precision | recall |\n| --- | ---: | ---: | ---: |\n")
	for _, p := range All() {
		q, err := query.Parse(p.Query())
		if err != nil {
			t.Fatal(err)
		}
		var tp, fp, fn int
		var misses []string
		for i, it := range items {
			want := contains(it.Packs, p.Name)
			got := q.Match(docs[i])
			switch {
			case got && want:
				tp++
			case got && !want:
				fp++
				misses = append(misses, "  false positive "+it.ID+": "+it.Title)
			case !got && want:
				fn++
				misses = append(misses, "  missed "+it.ID+": "+it.Title)
			}
		}
		precision := ratio(tp, tp+fp)
		recall := ratio(tp, tp+fn)
		fmt.Fprintf(&table, "| %s | %d | %.2f | %.2f |\n", p.Name, tp+fn, precision, recall)
		sort.Strings(misses)
		if testing.Verbose() && len(misses) > 0 {
			t.Logf("%s:\n%s", p.Name, strings.Join(misses, "\n"))
		}
		if precision < floorPrecision || recall < floorRecall {
			t.Errorf("%s: precision %.2f, recall %.2f; the floor is %.2f and %.2f", p.Name, precision, recall, floorPrecision, floorRecall)
		}
	}
	t.Logf("%d labelled items (%v):\n%s", len(items), langs, table.String())
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestPacksOnAllLabelledItems measures the packs on every labelled set
// together, the blind-b set (tuned on after its first measurement)
// included, at the goal floors. blind-b's own table is measured at the
// held-out floors, which catch a pack that breaks on its languages (it
// holds five of the eight, so no count per language is asked of it).
func TestPacksOnAllLabelledItems(t *testing.T) {
	blind := readLabelled(t, "blind-b.jsonl")
	t.Run("blind-b", func(t *testing.T) { measure(t, blind, 0.75, 0.6, 0) })
	var all []labelled
	all = append(all, readLabelled(t, "labelled.jsonl")...)
	all = append(all, readLabelled(t, "holdout.jsonl")...)
	all = append(all, blind...)
	measure(t, all, minPrecision, minRecall, 40)
}
