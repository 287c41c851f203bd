package query

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/policywire/policywire"
)

// vocabulary is what the generated items and topics are made of: policy
// words in the languages the sources publish in, accents included.
var vocabulary = strings.Fields(`
	council commission parliament regulation directive proposal agreement
	digital diplomacy cyber cybersecurity security resilience attack defence
	sanctions trade tariffs energy climate hydrogen migration asylum border
	Ukraine Russia China Japan India Africa Mediterranean Western Balkans
	enlargement rule law democracy elections disinformation artificial
	intelligence data protection semiconductors chips 5G G7 G20 NATO OSCE
	summit ministers meeting statement declaration conclusions adopted
	negotiations mandate trilogue presidency ambassador envoy tech platform
	sécurité défense numérique énergie élections stratégie coopération
	Außenpolitik Sicherheit Verteidigung Wirtschaft Zusammenarbeit Kommission
	budget funding recovery investment innovation research space satellite
	health pandemic vaccines food agriculture fisheries water ocean Arctic
	human rights humanitarian aid development partnership Global Gateway
	critical raw materials supply chains competitiveness industry single market
`)

// functionWords fill the generated text between the vocabulary words; no
// topic is made of them.
var functionWords = strings.Fields(`
	the of and to in on for with a by from at as is was will be has have
	le la les des du et en pour sur une dans der die das und mit für von
`)

var benchSources = []string{
	"council-press", "eeas-press", "commission-press", "parliament-news", "consilium-meetings",
	"eurlex-proposals", "auswaertiges-amt", "diplomatie-gouv", "nato-news", "osce-press",
}

// textGen writes deterministic text: a third function words, a sixth policy
// vocabulary and the rest a long tail of 5,000 made-up words.
type textGen struct {
	r       *rand.Rand
	lexicon []string
}

func newTextGen(seed uint64) *textGen {
	syllables := strings.Fields("ka lo mi ne ru ta vi so pe da gu ri ho ze fa ly ch tr st on")
	g := &textGen{r: rand.New(rand.NewPCG(seed, seed+1)), lexicon: make([]string, 5000)}
	for i := range g.lexicon {
		var b strings.Builder
		for n := 2 + g.r.IntN(3); n > 0; n-- {
			b.WriteString(syllables[g.r.IntN(len(syllables))])
		}
		g.lexicon[i] = b.String()
	}
	return g
}

func (g *textGen) sentence(n int) string {
	words := make([]string, n)
	for i := range words {
		switch k := g.r.IntN(6); {
		case k < 2:
			words[i] = functionWords[g.r.IntN(len(functionWords))]
		case k == 2:
			words[i] = vocabulary[g.r.IntN(len(vocabulary))]
		default:
			words[i] = g.lexicon[g.r.IntN(len(g.lexicon))]
		}
	}
	words[0] = strings.ToUpper(words[0][:1]) + words[0][1:]
	return strings.Join(words, " ")
}

func (g *textGen) paragraph(sentences int) string {
	var b strings.Builder
	for i := 0; i < sentences; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(g.sentence(8 + g.r.IntN(14)))
		b.WriteString([]string{".", ",", ";", ":", "!"}[g.r.IntN(5)])
	}
	return b.String()
}

// benchItems returns n items shaped like the sources' items: a title, a
// summary of a few sentences, article text for a third of them, categories,
// a language and sometimes references.
func benchItems(n int) []policywire.Item {
	g := newTextGen(1)
	r := g.r
	items := make([]policywire.Item, n)
	for i := range items {
		it := policywire.Item{
			Source:   benchSources[r.IntN(len(benchSources))],
			Title:    g.sentence(6 + r.IntN(10)),
			Summary:  g.paragraph(2 + r.IntN(3)),
			Language: []string{"en", "fr", "de"}[r.IntN(3)],
		}
		if r.IntN(3) == 0 {
			it.Content = g.paragraph(10 + r.IntN(20))
		}
		for c := r.IntN(3); c > 0; c-- {
			it.Categories = append(it.Categories, g.sentence(1+r.IntN(2)))
		}
		if r.IntN(4) == 0 {
			it.References = append(it.References, fmt.Sprintf("%d/%04d(COD)", 2020+r.IntN(7), r.IntN(400)))
		}
		items[i] = it
	}
	return items
}

// benchTopics returns n topic queries in the shapes the configuration
// examples use: phrases joined by OR, a prefix with alternatives, fields,
// exclusions.
func benchTopics(n int) []*Query {
	r := rand.New(rand.NewPCG(3, 4))
	w := func() string { return Tokens(vocabulary[r.IntN(len(vocabulary))])[0] }
	stem := func() string { // a prefix of a longer word, as topics use them
		for {
			if s := w(); len(s) >= 6 {
				return s[:5]
			}
		}
	}
	topics := make([]*Query, n)
	for i := range topics {
		var s string
		switch i % 5 {
		case 0:
			s = fmt.Sprintf(`"%s %s" OR "%s %s" OR "%s %s"`, w(), w(), w(), w(), w(), w())
		case 1:
			s = fmt.Sprintf(`%s* AND (%s OR %s OR %s)`, stem(), w(), w(), w())
		case 2:
			s = fmt.Sprintf(`title:(%s OR %s) %s -%s`, w(), w(), w(), w())
		case 3:
			s = fmt.Sprintf(`(%s OR %s) source:%s lang:%s`, w(), w(), benchSources[r.IntN(len(benchSources))], []string{"en", "fr", "de"}[r.IntN(3)])
		case 4:
			s = fmt.Sprintf(`summary:"%s %s" OR ref:%d/* OR %s`, w(), w(), 2020+r.IntN(7), w())
		}
		topics[i] = MustParse(s)
	}
	return topics
}

// BenchmarkMatch matches 10,000 prepared items against 100 topics per
// operation, as one poll of every source could bring.
func BenchmarkMatch(b *testing.B) {
	items := benchItems(10000)
	docs := make([]*Doc, len(items))
	for i, it := range items {
		docs[i] = Prepare(it)
	}
	topics := benchTopics(100)
	b.ReportAllocs()
	matches := 0
	for b.Loop() {
		matches = 0
		for _, d := range docs {
			for _, q := range topics {
				if q.Match(d) {
					matches++
				}
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)*len(topics)), "ns/match")
	b.ReportMetric(float64(matches)/float64(len(docs)), "topics/item")
}

// BenchmarkPrepare prepares one generated item per operation.
func BenchmarkPrepare(b *testing.B) {
	items := benchItems(1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Prepare(items[i%len(items)])
		i++
	}
}

// BenchmarkParse parses one topic-sized query per operation.
func BenchmarkParse(b *testing.B) {
	queries := []string{
		`"digital diplomacy" OR "cyber diplomacy" OR "tech ambassador"`,
		`cyber* AND (security OR resilience OR attack)`,
		`title:(Sécurité OR Außenpolitik) source:eeas-press lang:fr -sport`,
		`ref:"COM(2023) 123 final" OR ref:2023/0212(COD)`,
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Parse(queries[i%len(queries)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
