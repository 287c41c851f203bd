package store

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTitleWords(t *testing.T) {
	tests := []struct{ title, want string }{
		{"Press release: UK appoints new technology envoy", "appoints envoy new technology uk"},
		{"News story: UK appoints new technology envoy", "appoints envoy new technology uk"},
		{"CELEX:32026R1234: Commission Implementing Regulation (EU) 2026/1234", "1234 2026 commission eu implementing regulation"},
		{"Council of the EU: Digital diplomacy – Council approves conclusions", "approves conclusions council digital diplomacy"},
		{"Speech: Speech by the Foreign Secretary", "by foreign secretary speech the"},
		{"Déclaration de la porte-parole sur la cybersécurité", "cybersecurite de declaration la parole porte sur"},
		{"Außenministerin trifft Tech-Botschafter", "aussenministerin botschafter tech trifft"},
		{"The EU’s cyber posture", "cyber eus posture the"},
		{"Statement:", "statement"},
	}
	for _, tt := range tests {
		if got := strings.Join(titleWords(tt.title), " "); got != tt.want {
			t.Errorf("titleWords(%q) = %q, want %q", tt.title, got, tt.want)
		}
	}
}

// The index must find exactly what comparing against every title finds.
func TestTitleIndexMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := strings.Fields("council eu digital diplomacy cyber conclusions adopts approves sanctions russia ukraine trade " +
		"japan partnership summit minister statement fisheries agriculture budget envoy technology security resilience " +
		"the of on and for in with a to")
	x := newTitleIndex()
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var all []titleEntry
	randWords := func() []string {
		n := 3 + rng.IntN(9)
		var w []string
		for range n {
			w = append(w, vocab[rng.IntN(len(vocab))])
		}
		slices.Sort(w)
		return slices.Compact(w)
	}
	for i := range 3000 {
		e := titleEntry{story: uint64(i + 1), source: []string{"a", "b", "c"}[i%3], date: base.Add(time.Duration(rng.IntN(40*24)) * time.Hour), words: randWords()}
		// Half the entries are near-copies of an earlier one.
		if i > 0 && i%2 == 0 {
			prev := all[rng.IntN(len(all))]
			e.words = slices.Clone(prev.words)
			if rng.IntN(2) == 0 {
				e.words = append(e.words, "extra")
				slices.Sort(e.words)
				e.words = slices.Compact(e.words)
			}
		}
		all = append(all, e)
		x.add(e)
	}
	for q := range 500 {
		words := all[rng.IntN(len(all))].words
		if q%3 == 0 {
			words = randWords()
		}
		date := base.Add(time.Duration(rng.IntN(40*24)) * time.Hour)
		got := map[uint64]bool{}
		for _, m := range x.candidates(words, date, "a") {
			got[m.story] = true
		}
		want := map[uint64]bool{}
		for _, e := range all {
			d := e.date.Sub(date)
			if len(words) >= minTitleWords && e.source != "a" && d <= titleWindow && d >= -titleWindow && jaccard(words, e.words) >= titleThreshold {
				want[e.story] = true
			}
		}
		if len(got) != len(want) {
			t.Fatalf("query %v: index found %d stories, brute force %d", words, len(got), len(want))
		}
		for k := range want {
			if !got[k] {
				t.Fatalf("query %v: index missed story %d", words, k)
			}
		}
	}
}

func TestTitleIndexExpires(t *testing.T) {
	x := newTitleIndex()
	now := time.Date(2026, 9, 25, 0, 0, 0, 0, time.UTC)
	words := titleWords("Council approves conclusions on digital diplomacy")
	for i := range 3000 {
		x.add(titleEntry{story: uint64(i + 1), source: "b", date: now.Add(-30 * 24 * time.Hour), words: words})
	}
	x.add(titleEntry{story: 99999, source: "b", date: now, words: words})
	x.expire(now)
	if len(x.entries) != 1 || x.live != 1 {
		t.Fatalf("after expiry: %d entries, %d live", len(x.entries), x.live)
	}
	if m := x.candidates(words, now, "a"); len(m) != 1 || m[0].story != 99999 {
		t.Fatalf("candidates after expiry: %+v", m)
	}
}
