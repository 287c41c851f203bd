package index

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// The benchmarks search an index of 100,000 synthetic items, built once per
// test process (go test -bench Search -run '^$' ./store/index/), never by a
// plain go test. POLICYWIRE_INDEX_BENCH_ITEMS sets another number of items,
// to see how the search scales (a million items takes minutes to build:
// keep it with POLICYWIRE_INDEX_BENCH_DIR).
const defaultBenchItems = 100_000

// benchItems is the number of items of the benchmark index.
func benchItems(b *testing.B) int {
	s := os.Getenv("POLICYWIRE_INDEX_BENCH_ITEMS")
	if s == "" {
		return defaultBenchItems
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("POLICYWIRE_INDEX_BENCH_ITEMS=%q: want a positive number of items", s)
	}
	return n
}

// benchCache holds the benchmark index between runs of BenchmarkSearch in
// one process; TestMain removes its directory.
var benchCache struct {
	once  sync.Once
	dir   string
	x     *Index
	build time.Duration
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchCache.x != nil {
		benchCache.x.Close()
	}
	if benchCache.dir != "" {
		os.RemoveAll(benchCache.dir)
	}
	os.Exit(code)
}

// benchVocab is the material of the synthetic items' content: sentences
// made of a subject, an action and a topic, the topics drawn so that a few
// are common and most are rare, as in a real archive.
var benchVocab = map[string]struct{ subjects, actions, topics []string }{
	"en": {
		subjects: []string{"The Council", "The Commission", "Ministers", "The presidency", "Member states", "The European Parliament", "The High Representative", "Delegations", "The rapporteur", "National experts", "The committee", "Negotiators"},
		actions:  []string{"discussed", "welcomed progress on", "adopted conclusions on", "called for action on", "took stock of", "agreed a mandate on", "held a debate on", "published a report on", "launched a consultation on", "reviewed funding for", "set out priorities for", "raised concerns about"},
		topics: []string{"the annual budget", "the common agricultural policy", "fishing opportunities", "energy prices", "migration and asylum", "enlargement", "support to Ukraine", "the single market", "competitiveness", "defence readiness",
			"public health", "rail freight", "housing", "critical raw materials", "clean hydrogen", "the rule of law", "trade with Latin America", "water resilience", "the space programme", "food security",
			"animal welfare", "forest monitoring", "the circular economy", "youth employment", "research funding", "cohesion policy", "digital identity wallets", "semiconductors", "artificial intelligence", "online platforms",
			"undersea cables", "cyber resilience", "cyber diplomacy", "digital diplomacy", "the tech ambassador network", "internet governance", "quantum technologies", "satellite connectivity", "election integrity", "foreign information manipulation"},
	},
	"fr": {
		subjects: []string{"Le Conseil", "La Commission", "Les ministres", "La présidence", "Les États membres", "Le Parlement européen", "Le ministre", "Les délégations", "La ministre déléguée", "Le Gouvernement"},
		actions:  []string{"a examiné", "a salué les progrès sur", "a adopté des conclusions sur", "appelle à agir sur", "a fait le point sur", "a débattu de", "a publié un rapport sur", "a lancé une consultation sur", "a fixé ses priorités pour", "s'inquiète de"},
		topics: []string{"le budget annuel", "la politique agricole commune", "les possibilités de pêche", "les prix de l'énergie", "la migration", "l'élargissement", "le soutien à l'Ukraine", "le marché unique", "la compétitivité", "la défense européenne",
			"la santé publique", "le fret ferroviaire", "le logement", "les matières premières critiques", "l'hydrogène", "l'État de droit", "la sécurité alimentaire", "le bien-être animal", "l'économie circulaire", "l'emploi des jeunes",
			"la recherche", "la politique de cohésion", "l'intelligence artificielle", "les plateformes en ligne", "les câbles sous-marins", "la cybersécurité", "la cyberdiplomatie", "la diplomatie numérique", "la gouvernance de l'internet", "la francophonie"},
	},
	"de": {
		subjects: []string{"Der Rat", "Die Kommission", "Die Ministerinnen und Minister", "Der Vorsitz", "Die Mitgliedstaaten", "Das Europäische Parlament", "Die Bundesregierung", "Die Delegationen", "Der Berichterstatter", "Der Ausschuss"},
		actions:  []string{"beriet über", "begrüßte Fortschritte bei", "nahm Schlussfolgerungen an zu", "fordert Maßnahmen zu", "zog Bilanz zu", "debattierte über", "veröffentlichte einen Bericht über", "startete eine Konsultation zu", "legte Prioritäten fest für", "äußerte Bedenken zu"},
		topics: []string{"den Jahreshaushalt", "die Gemeinsame Agrarpolitik", "die Fangquoten", "die Energiepreise", "Migration und Asyl", "die Erweiterung", "die Unterstützung der Ukraine", "den Binnenmarkt", "die Wettbewerbsfähigkeit", "die Verteidigungsbereitschaft",
			"die öffentliche Gesundheit", "den Schienengüterverkehr", "den Wohnungsbau", "kritische Rohstoffe", "Wasserstoff", "die Rechtsstaatlichkeit", "die Ernährungssicherheit", "den Tierschutz", "die Kreislaufwirtschaft", "die Jugendbeschäftigung",
			"die Forschungsförderung", "die Kohäsionspolitik", "Künstliche Intelligenz", "Online-Plattformen", "Unterseekabel", "die Cybersicherheit", "die Cyberdiplomatie", "die digitale Diplomatie", "die Internet-Governance", "die Fischerei in der Ostsee"},
	},
}

// benchSentence makes one sentence; topics later in the list are rarer.
func benchSentence(r *rand.Rand, lang string) string {
	v := benchVocab[lang]
	n := len(v.topics)
	topic := v.topics[min(n-1, int(float64(n)*r.Float64()*r.Float64()*r.Float64()*3))]
	return pick(r, v.subjects) + " " + pick(r, v.actions) + " " + topic + "."
}

// syntheticItems makes n items in English, French and German from the
// corpus templates, with a content of a few sentences, dated over two years;
// the same n always gives the same items.
func syntheticItems(n int) []policywire.Item {
	r := rand.New(rand.NewPCG(100, 100))
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(2 * 365 * 24 * time.Hour)
	items := make([]policywire.Item, 0, n)
	for i := range n {
		var templates []func(*rand.Rand, time.Time) (corpusSource, string, string, []string, []string)
		switch i % 3 {
		case 0:
			templates = enTemplates
		case 1:
			templates = frTemplates
		default:
			templates = deTemplates
		}
		d := start.Add(time.Duration(r.Int64N(span)))
		src, title, summary, cats, refs := templates[r.IntN(len(templates))](r, d)
		var content strings.Builder
		for range 3 + r.IntN(6) {
			content.WriteString(benchSentence(r, src.lang))
			content.WriteByte(' ')
		}
		items = append(items, corpusItem(src, fmt.Sprintf("%s/item-%d/", d.Format("2006/01/02"), i), d, title, summary, content.String(), cats, refs))
	}
	return items
}

func benchIndex(b *testing.B, size int) *Index {
	b.Helper()
	benchCache.once.Do(func() {
		// POLICYWIRE_INDEX_BENCH_DIR keeps the index between processes, to
		// save the build while tuning the search.
		dir, keep := os.Getenv("POLICYWIRE_INDEX_BENCH_DIR"), true
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "policywire-index-bench-"); err != nil {
				benchCache.err = err
				return
			}
			benchCache.dir, keep = dir, false
		}
		start := time.Now()
		x, err := Open(filepath.Join(dir, "index"), nil)
		if err != nil {
			benchCache.err = err
			return
		}
		benchCache.x = x
		if n, err := x.Count(); keep && err == nil && n == uint64(size) {
			return
		}
		if err := x.Close(); err != nil {
			benchCache.err = err
			return
		}
		// A kept index of another size is built again from nothing.
		if err := os.RemoveAll(filepath.Join(dir, "index")); err != nil {
			benchCache.err = err
			return
		}
		if x, err = Open(filepath.Join(dir, "index"), nil); err != nil {
			benchCache.err = err
			return
		}
		benchCache.x = x
		items := syntheticItems(size)
		for i := 0; i < len(items); i += 5000 {
			if err := x.Index(items[i:min(i+5000, len(items))]); err != nil {
				benchCache.err = err
				return
			}
		}
		benchCache.build = time.Since(start)
	})
	if benchCache.err != nil {
		b.Fatal(benchCache.err)
	}
	return benchCache.x
}

// benchQueries are what people type: words, phrases, prefixes, fields,
// negations and the topic queries of the spec.
var benchQueries = []string{
	`digital diplomacy`,
	`"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`,
	`cyber* AND (security OR resilience OR attack)`,
	`cybersécurité`,
	`Fischerei Fangquoten`,
	`fisheries -council`,
	`title:budget lang:en`,
	`source:council-press agriculture`,
	`ref:2025*`,
	`NOT (fisheries OR agriculture) lang:de`,
	`"fishing opportunities" Atlantic`,
	`agric*`,
	`milchbauern OR "filière laitière" OR "dairy farmers"`,
	`summary:negotiations parliament`,
	`high representative visits`,
}

func BenchmarkSearch(b *testing.B) {
	size := benchItems(b)
	x := benchIndex(b, size)
	n, err := x.Count()
	if err != nil || n != uint64(size) {
		b.Fatalf("index holds %d items (%v)", n, err)
	}
	if benchCache.build > 0 {
		b.Logf("built the index of %d items in %s (%.0f items/s)", size, benchCache.build.Round(time.Millisecond), float64(size)/benchCache.build.Seconds())
	}
	b.Logf("%d items, %.1f MB on disk", size, float64(dirSize(b, benchCache.x.Dir()))/1e6)
	parsed := make([]*query.Query, len(benchQueries))
	for i, s := range benchQueries {
		parsed[i] = query.MustParse(s)
	}
	for _, newest := range []bool{false, true} {
		name := "relevance"
		if newest {
			name = "newest"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := parsed[i%len(parsed)]
				i++
				t0 := time.Now()
				if _, err := x.Search(ctx, q, policywire.SearchOptions{Limit: 5, Newest: newest}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			reportPercentiles(b, lat)
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

func dirSize(b *testing.B, dir string) int64 {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			total += info.Size()
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// BenchmarkIndex measures indexing throughput: 5,000 items per iteration
// into a fresh index, in batches of 1,000.
func BenchmarkIndex(b *testing.B) {
	items := syntheticItems(5000)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		x, err := Open(filepath.Join(b.TempDir(), "index"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		if err := x.Index(items); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		b.StopTimer()
		x.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(len(items)*b.N)/total.Seconds(), "items/s")
}
