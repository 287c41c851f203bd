package store

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

var (
	benchActors = []string{"Council", "Commission", "High Representative", "European Parliament", "Foreign Secretary",
		"Secretary of State", "EU and Japan", "EU and United States", "Presidency", "Eurogroup", "EEAS spokesperson", "Minister"}
	benchVerbs = []string{"adopts conclusions on", "approves", "welcomes agreement on", "launches consultation on",
		"publishes report on", "announces funding for", "holds dialogue on", "signs memorandum on", "extends sanctions over",
		"reaches provisional deal on", "sets out priorities for", "statement on"}
	benchTopics = []string{"digital diplomacy", "cyber resilience", "fishing opportunities in the Baltic Sea", "the 2027 budget",
		"agricultural markets", "critical raw materials", "the situation in Sudan", "artificial intelligence governance",
		"undersea cable security", "the Western Balkans", "rule of law in member states", "migration and asylum",
		"humanitarian aid to Gaza", "energy prices", "trade with Mercosur", "the Arctic", "space surveillance",
		"tech ambassadors", "semiconductor supply chains", "wine labelling"}
	benchPlaces  = []string{"Brussels", "Luxembourg", "Tokyo", "Washington", "Nairobi", "Geneva", "Kyiv", "Ottawa", "Canberra", "Oslo"}
	benchSources = []string{"council-press", "eeas-press", "ec-presscorner", "govuk-fcdo", "eurlex", "europarl",
		"state-dept", "france-diplomatie", "federal-register", "council-listing"}
)

// benchNames are made-up proper nouns (people, places, programmes,
// regulations): the words that make real titles differ.
var benchNames = func() []string {
	syl := []string{"ka", "lo", "mi", "ra", "ve", "to", "sun", "bel", "dor", "an", "is", "ur", "pe", "gra", "vik", "mon"}
	var out []string
	for _, a := range syl {
		for _, b := range syl {
			for _, c := range syl {
				out = append(out, strings.ToUpper(a[:1])+a[1:]+b+c)
			}
		}
	}
	return out
}()

// benchItem is the i-th of a stream of distinct, realistic items.
func benchItem(source string, i int, now time.Time) policywire.Item {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	name := func() string { return benchNames[r.IntN(len(benchNames))] }
	var title string
	switch r.IntN(3) {
	case 0:
		title = fmt.Sprintf("%s %s %s: %s and %s meet in %s",
			benchActors[r.IntN(len(benchActors))], benchVerbs[r.IntN(len(benchVerbs))],
			benchTopics[r.IntN(len(benchTopics))], name(), name(), benchPlaces[r.IntN(len(benchPlaces))])
	case 1:
		title = fmt.Sprintf("%s: %s %s, says %s",
			benchTopics[r.IntN(len(benchTopics))], benchActors[r.IntN(len(benchActors))],
			benchVerbs[r.IntN(len(benchVerbs))], name())
	default:
		title = fmt.Sprintf("Regulation (EU) 2026/%d on %s in %s and %s",
			1000+i, benchTopics[r.IntN(len(benchTopics))], name(), benchPlaces[r.IntN(len(benchPlaces))])
	}
	slug := strings.ToLower(strings.NewReplacer(" ", "-", "(", "", ")", "", ":", "", ",", "", "/", "-").Replace(title))
	it := policywire.Item{
		Source:     source,
		GUID:       fmt.Sprintf("%d", 1180000+i),
		URL:        benchURL(source, now.Add(-time.Duration(r.IntN(48*60))*time.Minute), slug),
		Title:      title,
		Summary:    "The " + benchActors[r.IntN(len(benchActors))] + " today discussed " + benchTopics[r.IntN(len(benchTopics))] + " with " + name() + ", following the meeting of ministers.",
		Published:  now.Add(-time.Duration(r.IntN(48*60)) * time.Minute),
		Language:   "en",
		Categories: []string{"Press release"},
	}
	it.CanonicalURL = it.URL
	it.ID = policywire.Identity(it)
	return it
}

// benchURL links like the real sites: most put the date in the path,
// GOV.UK does not.
func benchURL(source string, published time.Time, slug string) string {
	if source == "govuk-fcdo" {
		return "https://www.gov.uk/government/news/" + slug
	}
	return "https://" + source + ".europa.eu/en/press/press-releases/" + published.Format("2006/01/02") + "/" + slug + "/"
}

// benchRouter sends the digital and cyber items (about 30%) to two channels.
func benchRouter(it policywire.Item) []Route {
	t := strings.ToLower(it.Title)
	for _, w := range []string{"digital", "cyber", "tech", "artificial", "undersea", "semiconductor"} {
		if strings.Contains(t, w) {
			return []Route{
				{Channel: "eu-desk", Topics: []string{"digital-diplomacy"}},
				{Channel: "diplomacy-room", Topics: []string{"cyber"}},
			}
		}
	}
	return nil
}

// BenchmarkIngest ingests 1,000 new items per op in polls of 50, as the
// scheduler does, about 5% of them another source's report of a story.
func BenchmarkIngest(b *testing.B) {
	clk := newClock()
	s, err := Open(filepath.Join(b.TempDir(), "policywire.db"), Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// BENCH_NOSYNC=1 leaves out the fsyncs, to tell CPU cost from disk cost.
	if os.Getenv("BENCH_NOSYNC") != "" {
		s.DB().NoSync = true
	}
	const perOp, perPoll = 1000, 50
	next := 0
	routed := 0
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for p := 0; p < perOp/perPoll; p++ {
			clk.Advance(time.Minute)
			source := benchSources[next/perPoll%len(benchSources)]
			batch := make([]policywire.Item, perPoll)
			for k := range batch {
				batch[k] = benchItem(source, next, clk.Now())
				if next%20 == 19 && next > 100 {
					// Another source's copy of an earlier story.
					batch[k].Title = benchItem(source, next-60, clk.Now()).Title
				}
				next++
			}
			st, err := s.SourceState(source)
			if err != nil {
				b.Fatal(err)
			}
			res, err := s.Ingest(Batch{Source: source, SourceName: source, Items: batch, State: st}, benchRouter)
			if err != nil {
				b.Fatal(err)
			}
			routed += len(res.Alerts)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*perOp)/elapsed.Seconds(), "items/s")
	b.ReportMetric(float64(routed)/float64(b.N*perOp), "alerts/item")
}

func BenchmarkUnseen(b *testing.B) {
	clk := newClock()
	s, err := Open(filepath.Join(b.TempDir(), "policywire.db"), Options{Now: clk.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var all []policywire.Item
	for i := range 20000 {
		all = append(all, benchItem(benchSources[i/50%len(benchSources)], i, clk.Now()))
	}
	for i := 0; i < len(all); i += 500 {
		if _, err := s.Ingest(Batch{Source: all[i].Source, Items: all[i : i+500], State: SourceState{Source: all[i].Source}}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		off := (i * 50) % (len(all) - 50)
		if _, err := s.Unseen(all[off : off+50]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*50)/b.Elapsed().Seconds(), "items/s")
}
