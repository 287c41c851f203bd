package bench

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// feedSource is the fixed shape of one synthetic source: its format,
// language, how many items it lists, how big its body is and how often it
// publishes. Everything follows from the seed and the source's index.
type feedSource struct {
	index    int
	id       string
	atom     bool
	lang     int
	items    int           // items listed (20 to 50)
	itemSize int           // bytes of text per item, so the body is 30 to 200 KB
	spacing  time.Duration // between two publications
	age      time.Duration // of the newest item at the epoch
}

// sourceID names the i-th synthetic source.
func sourceID(i int) string { return fmt.Sprintf("src-%05d", i) }

// newFeedSource derives source i from the seed.
func newFeedSource(seed uint64, i int) feedSource {
	r := rand.New(rand.NewPCG(seed, 0x5eed0000+uint64(i)))
	s := feedSource{index: i, id: sourceID(i), atom: r.IntN(10) < 4, lang: pickLang(r), items: 20 + r.IntN(31)}
	// Body sizes follow a triangular law from 30 to 200 KB with its mode
	// at 70 KB: a mean near 100 KB, as real press-release feeds with full
	// content have.
	body := triangular(r, 30, 70, 200) * 1024
	s.itemSize = max(int(body)/s.items-420, 200)
	s.spacing = time.Duration(3+r.IntN(28)) * time.Hour
	s.age = time.Duration(r.IntN(36*60)) * time.Minute
	return s
}

func triangular(r *rand.Rand, lo, mode, hi float64) float64 {
	u := r.Float64()
	c := (mode - lo) / (hi - lo)
	if u < c {
		return lo + math.Sqrt(u*(hi-lo)*(mode-lo))
	}
	return hi - math.Sqrt((1-u)*(hi-lo)*(hi-mode))
}

// feedState is what a source lists now: items with sequence numbers up to
// top, and when the items added after the start were published.
type feedState struct {
	version int
	top     int
	adds    []feedAddition
	changed time.Time // Last-Modified
}

// feedAddition records that the items from sequence number from on were
// published at at.
type feedAddition struct {
	from int
	at   time.Time
}

func initialState(s feedSource, epoch time.Time) feedState {
	return feedState{top: s.items - 1, changed: epoch.Add(-s.age)}
}

func (st feedState) etag(s feedSource) string {
	return fmt.Sprintf(`"%s-v%d"`, s.id, st.version)
}

// published is the date of item seq.
func (st feedState) published(s feedSource, seq int, epoch time.Time) time.Time {
	for k := len(st.adds) - 1; k >= 0; k-- {
		if seq >= st.adds[k].from {
			return st.adds[k].at
		}
	}
	return epoch.Add(-s.age - time.Duration(s.items-1-seq)*s.spacing)
}

// item generates item seq of source s. Every twentieth item is a story two
// neighbouring sources both publish (the same title when they share a
// language), so that the store's clustering is exercised.
func (s feedSource) item(seed uint64, seq int, published time.Time) corpusItem {
	r := rand.New(rand.NewPCG(seed^0xfeed, uint64(s.index)<<32|uint64(seq)))
	story := r
	if seq%20 == 7 {
		story = rand.New(rand.NewPCG(seed^0x5707, uint64(s.index/2)<<32|uint64(seq)))
	}
	subj := textSubject(story)
	title := makeTitle(story, s.lang, subj)
	lead := fmt.Sprintf(corpusLeads[r.IntN(len(corpusLeads))][s.lang], subj[s.lang])
	it := corpusItem{
		Seq:       seq,
		Title:     title,
		Lead:      lead,
		Category:  corpusCategories[r.IntN(len(corpusCategories))][s.lang],
		Published: published,
		Link:      fmt.Sprintf("https://press.policy.example/%s/%s/%d/item-%d", s.id, corpusLangs[s.lang], published.Year(), seq),
	}
	if r.IntN(4) == 0 {
		it.Ref = fmt.Sprintf("IP/%02d/%d", published.Year()%100, 1000+r.IntN(9000))
		it.Lead += " (" + it.Ref + ")"
	}
	it.Paragraphs = fillParagraphs(r, s.lang, s.itemSize-len(lead))
	return it
}

// render writes the feed of source s in state st.
func (s feedSource) render(seed uint64, st feedState, epoch time.Time, baseURL string) []byte {
	var b bytes.Buffer
	b.Grow(s.items * (s.itemSize + 600))
	lang := corpusLangs[s.lang]
	self := fmt.Sprintf("%s/feeds/%d", baseURL, s.index)
	first := max(st.top-s.items+1, 0)
	if s.atom {
		fmt.Fprintf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"%s\">\n", lang)
		fmt.Fprintf(&b, "<id>tag:press.policy.example,2005:/%s</id>\n<title>Synthetic source %s</title>\n", s.id, s.id)
		fmt.Fprintf(&b, "<link rel=\"self\" type=\"application/atom+xml\" href=\"%s\"/>\n<updated>%s</updated>\n", self, st.changed.UTC().Format(time.RFC3339))
		for seq := st.top; seq >= first; seq-- {
			it := s.item(seed, seq, st.published(s, seq, epoch))
			b.WriteString("<entry>\n")
			fmt.Fprintf(&b, "<id>tag:press.policy.example,2005:/%s/%d</id>\n", s.id, seq)
			fmt.Fprintf(&b, "<title>%s</title>\n", xmlEscape(it.Title))
			fmt.Fprintf(&b, "<link rel=\"alternate\" type=\"text/html\" href=\"%s\"/>\n", it.Link)
			fmt.Fprintf(&b, "<published>%s</published>\n<updated>%s</updated>\n", it.Published.UTC().Format(time.RFC3339), it.Published.UTC().Format(time.RFC3339))
			fmt.Fprintf(&b, "<category term=\"%s\"/>\n", xmlEscape(it.Category))
			fmt.Fprintf(&b, "<summary type=\"html\">%s</summary>\n", xmlEscape("<p>"+xmlEscape(it.Lead)+"</p>"))
			b.WriteString("<content type=\"html\">")
			b.WriteString(xmlEscape(htmlBody(it)))
			b.WriteString("</content>\n</entry>\n")
		}
		b.WriteString("</feed>\n")
		return b.Bytes()
	}
	b.WriteString("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel>\n")
	fmt.Fprintf(&b, "<title>Synthetic source %s</title>\n<link>https://press.policy.example/%s/</link>\n", s.id, s.id)
	fmt.Fprintf(&b, "<description>Press releases of %s</description>\n<language>%s</language>\n", s.id, lang)
	fmt.Fprintf(&b, "<atom:link href=\"%s\" rel=\"self\" type=\"application/rss+xml\"/>\n", self)
	fmt.Fprintf(&b, "<lastBuildDate>%s</lastBuildDate>\n", st.changed.UTC().Format(time.RFC1123Z))
	for seq := st.top; seq >= first; seq-- {
		it := s.item(seed, seq, st.published(s, seq, epoch))
		b.WriteString("<item>\n")
		fmt.Fprintf(&b, "<title>%s</title>\n<link>%s</link>\n", xmlEscape(it.Title), it.Link)
		fmt.Fprintf(&b, "<guid isPermaLink=\"false\">%s-%d</guid>\n", s.id, seq)
		fmt.Fprintf(&b, "<pubDate>%s</pubDate>\n<category>%s</category>\n", it.Published.UTC().Format(time.RFC1123Z), xmlEscape(it.Category))
		fmt.Fprintf(&b, "<dc:creator>%s</dc:creator>\n", xmlEscape(corpusActors[seq%len(corpusActors)][s.lang]))
		fmt.Fprintf(&b, "<description>%s</description>\n", xmlEscape("<p>"+xmlEscape(it.Lead)+"</p>"))
		b.WriteString("<content:encoded><![CDATA[")
		b.WriteString(htmlBody(it))
		b.WriteString("]]></content:encoded>\n</item>\n")
	}
	b.WriteString("</channel>\n</rss>\n")
	return b.Bytes()
}

func htmlBody(it corpusItem) string {
	var b strings.Builder
	b.WriteString("<p><strong>")
	b.WriteString(xmlEscape(it.Lead))
	b.WriteString("</strong></p>")
	for _, p := range it.Paragraphs {
		b.WriteString("\n<p>")
		b.WriteString(xmlEscape(p))
		b.WriteString("</p>")
	}
	return b.String()
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

func xmlEscape(s string) string { return xmlEscaper.Replace(s) }
