package index

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/de"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/fr"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/query"
)

// Names of the index's fields. The exact fields decide what a query
// matches; the stemmed fields only weigh the results.
const (
	// Text fields tokenized exactly as query.Tokens does, with positions for
	// phrases.
	fieldTitle      = "title"      // also stored, for display
	fieldSummary    = "summary"    // summary, then content: query's summary: field
	fieldCategories = "categories" // every category

	// Whole folded values, as query compares them.
	fieldSource = "source"
	fieldLang   = "lang"
	fieldRef    = "ref" // one term per reference, in query.NormalizeRef form

	fieldDate     = "date"      // the item's date, for date ranges
	fieldDateSort = "date_sort" // the same date as one sortable term

	// Stored only, for the hit: what a chat answer shows.
	fieldStoredSource  = "src"
	fieldStoredURL     = "url"
	fieldStoredSummary = "summary_text"
	fieldStoredLang    = "language"
	fieldStoredDate    = "published"

	// Language-aware copies of all the text, one field per analyzer.
	fieldStemEN    = "stem_en"
	fieldStemFR    = "stem_fr"
	fieldStemDE    = "stem_de"
	fieldStemOther = "stem_any"
)

// storedFields are the fields a search reads back for each hit.
var storedFields = []string{fieldTitle, fieldStoredSource, fieldStoredURL, fieldStoredSummary, fieldStoredLang, fieldStoredDate}

// stemFields are the relevance fields, each with its analyzer.
var stemFields = []struct{ field, analyzer string }{
	{fieldStemEN, analyzerEN},
	{fieldStemFR, analyzerFR},
	{fieldStemDE, analyzerDE},
	{fieldStemOther, analyzerOther},
}

// Analyzer names. wordsAnalyzer is registered with bleve when this package
// loads, because an index on disk names its analyzers and bleve finds them
// by name in its registry when the index is opened again.
const (
	wordsAnalyzer = "policywire_words"
	analyzerEN    = "policywire_en"
	analyzerFR    = "policywire_fr"
	analyzerDE    = "policywire_de"
	analyzerOther = "policywire_folded"
)

// partSeparator joins the parts of one text field (summary and content, two
// categories) so that a phrase never runs from one part into the next, as in
// query.Match. It is not a word character, so it splits words exactly like
// the white space it replaces in the parts themselves.
const partSeparator = "\x1e"

// wordsTokenizer is the tokenizer of the language-aware analyzers: the
// same folded words as the exact fields, which the stemmers then reduce.
const wordsTokenizer = "policywire_words"

func init() {
	if err := registry.RegisterAnalyzer(wordsAnalyzer, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return wordsAnalyzerImpl{}, nil
	}); err != nil {
		panic(err)
	}
	if err := registry.RegisterTokenizer(wordsTokenizer, func(map[string]interface{}, *registry.Cache) (analysis.Tokenizer, error) {
		return wordsAnalyzerImpl{}, nil
	}); err != nil {
		panic(err)
	}
}

// wordsAnalyzerImpl produces exactly the words of query.Tokens, part by
// part, with a gap of one position between parts. As a tokenizer it does
// the same: folding is all the language-aware analyzers need before their
// stop words and stemmers, and it costs a fraction of bleve's Unicode
// word segmentation.
//
// The tokens carry no offsets (Start and End are zero): phrases need only
// positions, the index highlights nothing from these fields, and the
// snippet is computed from the stored summary instead. The term vectors
// keep a location for every word of every item, and without offsets the
// index is about a ninth smaller.
type wordsAnalyzerImpl struct{}

func (a wordsAnalyzerImpl) Tokenize(input []byte) analysis.TokenStream { return a.Analyze(input) }

func (wordsAnalyzerImpl) Analyze(input []byte) analysis.TokenStream {
	var out analysis.TokenStream
	pos := 1
	for part := range strings.SplitSeq(string(input), partSeparator) {
		words := query.Tokens(part)
		toks := make([]analysis.Token, len(words))
		for i, w := range words {
			toks[i] = analysis.Token{Term: []byte(w), Position: pos, Type: analysis.AlphaNumeric}
			out = append(out, &toks[i])
			pos++
		}
		pos++ // the gap that stops phrases at the end of a part
	}
	return out
}

// newMapping describes the index: a static mapping, so that nothing but the
// fields named here is indexed or stored.
func newMapping() (*mapping.IndexMappingImpl, error) {
	im := mapping.NewIndexMapping()
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	im.DefaultAnalyzer = keyword.Name

	// The words come folded (lower case, no accents), so that
	// "cybersecurite" and "cybersécurité" weigh the same, as they match the
	// same; apostrophes split words, so elision and possessive filters have
	// nothing left to do.
	langAnalyzers := map[string][]string{
		analyzerEN:    {en.StopName, en.SnowballStemmerName},
		analyzerFR:    {fr.StopName, fr.LightStemmerName},
		analyzerDE:    {de.StopName, de.NormalizeName, de.LightStemmerName},
		analyzerOther: {},
	}
	for name, filters := range langAnalyzers {
		err := im.AddCustomAnalyzer(name, map[string]interface{}{
			"type":          custom.Name,
			"tokenizer":     wordsTokenizer,
			"token_filters": filters,
		})
		if err != nil {
			return nil, err
		}
	}

	doc := mapping.NewDocumentStaticMapping()
	exactText := func(name string, store bool) {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = wordsAnalyzer
		f.Store = store
		f.IncludeTermVectors = true // positions, for phrases
		f.IncludeInAll = false
		f.DocValues = false
		doc.AddFieldMappingsAt(name, f)
	}
	exactText(fieldTitle, true)
	exactText(fieldSummary, false)
	exactText(fieldCategories, false)

	for _, name := range []string{fieldSource, fieldLang, fieldRef} {
		f := mapping.NewKeywordFieldMapping()
		f.Store = false
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		doc.AddFieldMappingsAt(name, f)
	}

	date := mapping.NewDateTimeFieldMapping()
	date.Store = false
	date.IncludeInAll = false
	date.DocValues = false
	doc.AddFieldMappingsAt(fieldDate, date)
	// Sorting reads doc values; a date field keeps a term per precision
	// step there, a keyword only one, which is many times less to decode.
	dateSort := mapping.NewKeywordFieldMapping()
	dateSort.Store = false
	dateSort.IncludeTermVectors = false
	dateSort.IncludeInAll = false
	dateSort.DocValues = true
	doc.AddFieldMappingsAt(fieldDateSort, dateSort)

	for _, name := range []string{fieldStoredSource, fieldStoredURL, fieldStoredSummary, fieldStoredLang, fieldStoredDate} {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = keyword.Name
		f.Index = false
		f.Store = true
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		doc.AddFieldMappingsAt(name, f)
	}

	for _, s := range stemFields {
		f := mapping.NewTextFieldMapping()
		f.Analyzer = s.analyzer
		f.Store = false
		f.IncludeTermVectors = false
		f.IncludeInAll = false
		f.DocValues = false
		doc.AddFieldMappingsAt(s.field, f)
	}

	// No "_all" field: every query names its fields.
	doc.AddSubDocumentMapping("_all", mapping.NewDocumentDisabledMapping())
	im.DefaultMapping = doc
	if err := im.Validate(); err != nil {
		return nil, err
	}
	return im, nil
}

// dateSortLayout orders as text in date order (fixed width, UTC).
const dateSortLayout = "20060102150405.000000000"

// document is what the index holds of one item.
func document(it policywire.Item) map[string]interface{} {
	summary := clean(it.Summary)
	if it.Content != "" {
		summary += partSeparator + clean(it.Content)
	}
	cats := make([]string, len(it.Categories))
	for i, c := range it.Categories {
		cats[i] = clean(c)
	}
	var refs []string
	for _, r := range it.References {
		if n := query.NormalizeRef(r); n != "" {
			refs = append(refs, n)
		}
	}
	doc := map[string]interface{}{
		fieldTitle:      clean(it.Title),
		fieldSummary:    summary,
		fieldCategories: strings.Join(cats, partSeparator),
		fieldSource:     keywordValue(it.Source),
		fieldLang:       keywordValue(it.Language),

		fieldStoredSource:  it.Source,
		fieldStoredURL:     it.URL,
		fieldStoredSummary: it.Summary,
		fieldStoredLang:    it.Language,
	}
	if len(refs) > 0 {
		doc[fieldRef] = refs
	}
	if d := it.Date(); !d.IsZero() {
		doc[fieldStoredDate] = d.UTC().Format(time.RFC3339Nano)
		// The index keeps dates as nanoseconds since 1970 in an int64; a
		// date beyond that range is shown but not sorted by.
		if y := d.Year(); y > 1677 && y < 2262 {
			doc[fieldDate] = d.UTC()
			doc[fieldDateSort] = d.UTC().Format(dateSortLayout)
		}
	}
	text := make([]string, 0, 3+len(it.Categories))
	text = append(text, it.Title, it.Summary, lead(it.Content, stemmedContentBytes))
	text = append(text, it.Categories...)
	doc[stemFieldFor(it.Language)] = strings.Join(text, "\n")
	return doc
}

// stemmedContentBytes bounds the part of an item's content that goes into
// its language-aware copy. That copy only ranks, and the lead of an
// article says what it is about; analyzing whole articles a second time
// was the largest single cost of indexing them.
const stemmedContentBytes = 1000

// lead returns s up to the last word boundary within n bytes.
func lead(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := strings.LastIndexAny(s[:n+1], " \n\t")
	if cut <= 0 {
		for cut = n; cut > 0 && !utf8.RuneStart(s[cut]); cut-- {
		}
	}
	return s[:cut]
}

// clean keeps the part separator out of the text itself: in query.Match,
// a separator character inside a summary splits words but not phrases.
func clean(s string) string {
	if strings.Contains(s, partSeparator) {
		return strings.ReplaceAll(s, partSeparator, " ")
	}
	return s
}

// keywordValue is the form in which query compares source ids and language
// codes: folded, white space runs made one space.
func keywordValue(s string) string {
	return strings.Join(strings.Fields(query.Fold(s)), " ")
}

// stemFieldFor picks the relevance field by the item's language tag.
func stemFieldFor(lang string) string {
	primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(lang)), "-")
	primary, _, _ = strings.Cut(primary, "_")
	switch primary {
	case "en":
		return fieldStemEN
	case "fr":
		return fieldStemFR
	case "de":
		return fieldStemDE
	}
	return fieldStemOther
}
