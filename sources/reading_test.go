package sources

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// readFeedFixture parses testdata/feeds/name as a feed source, with the
// Content-Type it would be served with, and returns the items and report.
func readFeedFixture(t *testing.T, name, contentType string) ([]policywire.Item, Report) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "feeds", name))
	if err != nil {
		t.Fatal(err)
	}
	src := Source{ID: "pub", URL: "https://publisher.example/feed"}
	items, rep, err := ParseReport(src, body, src.URL, contentType, time.UTC)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return items, rep
}

func itemTitles(items []policywire.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Title)
	}
	return out
}

func wantTitles(t *testing.T, items []policywire.Item, want ...string) {
	t.Helper()
	if got := itemTitles(items); !slices.Equal(got, want) {
		t.Errorf("titles:\n got %q\nwant %q", got, want)
	}
}

func TestEncodingUTF16AndUTF32AreRead(t *testing.T) {
	fr := []string{"Déclaration conjointe sur la cybersécurité – « Appel de Paris »", "Pêche : accord UE–Norvège"}
	de := []string{"Außenministerin in Kyjiw – Gespräche über Cyberabwehr"}
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"utf16le-bom.rss", fr},   // .NET XmlWriter: BOM, encoding="utf-16"
		{"utf16be-nobom.rss", fr}, // no BOM: the bytes of "<?" tell the order
		{"utf32le-bom.atom", de},
		{"utf32be-nobom.atom", de},
	} {
		t.Run(tc.file, func(t *testing.T) {
			items, _ := readFeedFixture(t, tc.file, "application/xml")
			wantTitles(t, items, tc.want...)
		})
	}
}

func TestEncodingPrecedence(t *testing.T) {
	t.Run("Content-Type charset when the declaration names none", func(t *testing.T) {
		items, _ := readFeedFixture(t, "header-charset-latin2.rss", "text/xml; charset=ISO-8859-2")
		wantTitles(t, items, "Minister o cyberbezpieczeństwie: nowa ustawa")
		if items[0].Summary != "Źródło: Ministerstwo. Żółć." {
			t.Errorf("summary %q", items[0].Summary)
		}
	})
	t.Run("Content-Type charset over the XML declaration", func(t *testing.T) {
		items, rep := readFeedFixture(t, "header-charset-cp1251.rss", "text/xml; charset=windows-1251")
		wantTitles(t, items, "Заявление о кибербезопасности")
		if len(rep.Repairs) != 1 || !strings.Contains(rep.Repairs[0].What, "as the Content-Type says") {
			t.Errorf("repairs %+v, want the disagreement told", rep.Repairs)
		}
	})
	t.Run("BOM over the Content-Type charset", func(t *testing.T) {
		items, _ := readFeedFixture(t, "utf16le-bom.rss", "application/rss+xml; charset=ISO-8859-1")
		if len(items) != 2 || items[1].Title != "Pêche : accord UE–Norvège" {
			t.Errorf("titles %q", itemTitles(items))
		}
	})
	t.Run("UTF-8 bytes under a server's default ISO-8859-1", func(t *testing.T) {
		// Apache's AddDefaultCharset on a feed the CMS writes in UTF-8.
		body := "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><item><title>Außenministerin in Kyjiw – Gespräche über Cyberabwehr</title><link>https://x.example/a</link></item></channel></rss>"
		src := Source{ID: "pub", URL: "https://publisher.example/feed"}
		got, rep, err := ParseReport(src, []byte(body), src.URL, "text/xml; charset=ISO-8859-1", time.UTC)
		if err != nil || len(got) != 1 || got[0].Title != "Außenministerin in Kyjiw – Gespräche über Cyberabwehr" {
			t.Fatalf("%v, %q", err, itemTitles(got))
		}
		if len(rep.Repairs) != 1 || !strings.Contains(rep.Repairs[0].What, "read as UTF-8") {
			t.Errorf("repairs %+v", rep.Repairs)
		}
	})
	t.Run("declaration when the header has no charset", func(t *testing.T) {
		items, _ := readFeedFixture(t, "cp1252-labelled-latin1.rss", "application/rss+xml")
		if len(items) != 1 || !strings.HasPrefix(items[0].Title, "Presupuesto de 3 M€") {
			t.Errorf("titles %q", itemTitles(items))
		}
	})
}

func TestEncodingWindows1252BytesAreReadAsMeant(t *testing.T) {
	t.Run("in a body labelled UTF-8", func(t *testing.T) {
		items, rep := readFeedFixture(t, "cp1252-labelled-utf8.rss", "")
		// The first item has Word's bytes; the second is real UTF-8 and
		// must not be read as windows-1252 with it.
		wantTitles(t, items, "Budget 2027: “£1.2m for roads” – council’s plan", "Café licence – Zoë’s renewed")
		if items[0].Summary != "Costs rise by €5,000 …" {
			t.Errorf("summary %q", items[0].Summary)
		}
		if len(rep.Repairs) != 1 || rep.Repairs[0].What != "7 bytes that are not UTF-8 read as windows-1252" {
			t.Errorf("repairs %+v", rep.Repairs)
		}
	})
	t.Run("in a body labelled ISO-8859-1", func(t *testing.T) {
		items, rep := readFeedFixture(t, "cp1252-labelled-latin1.rss", "")
		wantTitles(t, items, "Presupuesto de 3 M€ para la “transición digital”")
		if items[0].Summary != "El alcalde’s anuncio – año 2027" {
			t.Errorf("summary %q", items[0].Summary)
		}
		if len(rep.Repairs) != 1 || !strings.Contains(rep.Repairs[0].What, "labelled ISO-8859-1 read as windows-1252") {
			t.Errorf("repairs %+v", rep.Repairs)
		}
	})
}

func TestTruncatedFeedKeepsEveryCompleteItem(t *testing.T) {
	for _, tc := range []struct {
		file     string
		complete int
	}{
		{"truncated.rss", 12}, // cut inside the CDATA of item 13
		{"truncated.atom", 3}, // cut inside an attribute of entry 4
	} {
		t.Run(tc.file, func(t *testing.T) {
			items, rep := readFeedFixture(t, tc.file, "")
			if len(items) != tc.complete {
				t.Fatalf("%d items, want the %d complete ones", len(items), tc.complete)
			}
			if last := items[len(items)-1]; !strings.Contains(last.Title, " "+strconv.Itoa(tc.complete)) {
				t.Errorf("last item %q, want number %d", last.Title, tc.complete)
			}
			want := "feed truncated after item " + strconv.Itoa(tc.complete)
			if !slices.Equal(rep.Warnings, []string{want}) {
				t.Errorf("warnings %q, want %q", rep.Warnings, want)
			}
			if len(rep.Dropped) != 1 || rep.Dropped[0].Position != tc.complete+1 {
				t.Errorf("dropped %+v, want item %d", rep.Dropped, tc.complete+1)
			}
		})
	}
}

func TestOneBadItemNeverFailsTheRest(t *testing.T) {
	items, rep := readFeedFixture(t, "bad-item.rss", "")
	wantTitles(t, items,
		"Agency publishes annual report",
		"Grants < £5,000 no longer need board approval", // repaired: "<" unescaped
		"Call for evidence on AI procurement")
	if items[1].Summary != "Pasted from Word: the new threshold applies from November." {
		t.Errorf("summary %q: the &#11; Word pasted must go, the text stay", items[1].Summary)
	}
	if len(rep.Dropped) != 1 || rep.Dropped[0].Position != 3 || !strings.Contains(rep.Dropped[0].Reason, "markup error") {
		t.Errorf("dropped %+v, want item 3 with its markup error", rep.Dropped)
	}
	if len(rep.Repairs) != 2 || rep.Repairs[0].Position != 2 || rep.Repairs[1].Position != 2 {
		t.Errorf("repairs %+v, want two in item 2", rep.Repairs)
	}
}

func TestJSONFeedWithWrongShapesKeepsItsItems(t *testing.T) {
	items, rep := readFeedFixture(t, "jsonfeed-wrong-shapes.json", "application/feed+json")
	wantTitles(t, items, "ePrivacy: what the new draft changes", "DSA enforcement: first fines", "AI Act")
	if !slices.Equal(items[0].Categories, []string{"privacy"}) || items[0].GUID != "2001" {
		t.Errorf("item 1: tags %q, id %q", items[0].Categories, items[0].GUID)
	}
	if want := time.Unix(1792655400, 0).UTC(); !items[2].Published.Equal(want) {
		t.Errorf("item 4 published %s, want %s", items[2].Published, want)
	}
	if len(rep.Dropped) != 1 || rep.Dropped[0].Position != 3 {
		t.Errorf("dropped %+v, want the string at position 3", rep.Dropped)
	}
	var authors bool
	for _, r := range rep.Repairs {
		authors = authors || r.Position == 1 && strings.HasPrefix(r.What, "authors is an object")
	}
	if !authors {
		t.Errorf("repairs %+v do not tell of item 1's authors", rep.Repairs)
	}
}

func TestJSONFeedTitlesAreText(t *testing.T) {
	body := `{"version":"https://jsonfeed.org/version/1.1","items":[
		{"id":"1","url":"https://x.example/1","title":"The <details> element in forms"},
		{"id":"2","url":"https://x.example/2","title":"<b>Urgent:</b> deadline"}]}`
	items, err := Parse(Source{ID: "j"}, []byte(body), "https://x.example/feed.json", "application/feed+json", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	wantTitles(t, items, "The <details> element in forms", "Urgent: deadline")
}

func TestItemsWithOnlyContentGetATitle(t *testing.T) {
	t.Run("JSON Feed", func(t *testing.T) {
		items, rep := readFeedFixture(t, "jsonfeed-microblog.json", "")
		wantTitles(t, items,
			"Signed the Paris Call on cyber stability today in Geneva.",
			"Landed in Nairobi for the digital public infrastructure summit, where ministers from thirty…")
		if len(rep.Repairs) != 2 || !strings.HasPrefix(rep.Repairs[0].What, "no title") {
			t.Errorf("repairs %+v", rep.Repairs)
		}
	})
	t.Run("RSS", func(t *testing.T) {
		items, _ := readFeedFixture(t, "rss-content-only.rss", "")
		wantTitles(t, items, "Met the OSCE chair on election observation.")
		if !strings.Contains(items[0].Content, "Next round in Vienna.") {
			t.Errorf("content %q", items[0].Content)
		}
	})
}

func TestPublisherFields(t *testing.T) {
	items, _ := readFeedFixture(t, "rss-publisher-fields.rss", "")
	if len(items) != 4 {
		t.Fatalf("%d items", len(items))
	}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("feedburner:origLink is the link", func(t *testing.T) {
		if items[0].URL != "https://briefings.example.org/2026/10/export-controls/" {
			t.Errorf("URL %q, want the origLink, not the FeedBurner redirect", items[0].URL)
		}
	})
	t.Run("atom:link and dcterms dates", func(t *testing.T) {
		it := items[1]
		if it.URL != "https://briefings.example.org/2026/10/baltic-cables/" {
			t.Errorf("URL %q", it.URL)
		}
		if !it.Published.Equal(utc("2026-10-21T07:30:00Z")) || !it.Updated.Equal(utc("2026-10-22T06:00:00Z")) {
			t.Errorf("published %s updated %s, want dcterms:issued and dcterms:modified", it.Published, it.Updated)
		}
	})
	t.Run("dc:date, xhtml:body, and a guid that is no permalink", func(t *testing.T) {
		it := items[2]
		if !it.Published.Equal(utc("2026-10-23T14:05:00Z")) {
			t.Errorf("published %s", it.Published)
		}
		if it.Content != "The tracker lists 14 new designations." {
			t.Errorf("content %q, want the xhtml:body", it.Content)
		}
		if it.URL != "" || it.ID != "g:pub\x00https://briefings.example.org/trackers/sanctions-2026-10" {
			t.Errorf("URL %q ID %q: an isPermaLink=false guid is no link", it.URL, it.ID)
		}
	})
	t.Run("dcterms:issued date only", func(t *testing.T) {
		if !items[3].Published.Equal(utc("2026-10-24T00:00:00Z")) {
			t.Errorf("published %s", items[3].Published)
		}
	})
}

func TestRDFAboutIsTheItemsID(t *testing.T) {
	items, _ := readFeedFixture(t, "rss10-rdf-about.rdf", "")
	if len(items) != 2 {
		t.Fatalf("%d items", len(items))
	}
	if items[0].GUID != "urn:bill:2026:0412" || items[0].ID != "g:pub\x00urn:bill:2026:0412" {
		t.Errorf("item 1 GUID %q ID %q, want its rdf:about", items[0].GUID, items[0].ID)
	}
	if items[1].GUID != "https://parliament.example.org/bills/0413" || items[1].URL != "https://parliament.example.org/bills/0413" {
		t.Errorf("item 2 GUID %q URL %q", items[1].GUID, items[1].URL)
	}
}

func TestAtom03Base64ContentIsDecoded(t *testing.T) {
	items, _ := readFeedFixture(t, "atom03-base64.atom", "")
	if len(items) != 1 || items[0].Content != "The minister announced a national cyber strategy for 2027–2030." {
		t.Fatalf("items %+v", items)
	}
}

func TestTitlesKeepLiteralMarkupVisible(t *testing.T) {
	t.Run("RSS", func(t *testing.T) {
		items, _ := readFeedFixture(t, "titles-escaped.rss", "")
		wantTitles(t, items,
			"History of the <blink> tag",
			"Rules for <script> elements in e-government forms",
			"AT&T & the FCC",                 // escaped twice, read once more
			"Urgent: accessibility deadline") // real markup, escaped once
	})
	t.Run("Atom", func(t *testing.T) {
		items, _ := readFeedFixture(t, "titles-atom-types.atom", "")
		wantTitles(t, items,
			"History of the <blink> tag",             // type="text"
			"Accessible forms & the <label> element", // type="html": markup to text
			"The <dialog> element",                   // type="xhtml"
			"Plain <title> without a type")           // text by default (RFC 4287 §3.1.1)
	})
}

func TestGUIDNotPermalinkIsNeverTheLink(t *testing.T) {
	items, _ := readFeedFixture(t, "guid-not-permalink.rss", "")
	if len(items) != 3 {
		t.Fatalf("%d items", len(items))
	}
	if items[0].URL != "" || items[0].CanonicalURL != "" {
		t.Errorf("item 1 URL %q: its guid is isPermaLink=\"false\"", items[0].URL)
	}
	if items[1].URL != "https://regulator.example.org/rules/breach-reporting" {
		t.Errorf("item 2 URL %q: a guid is a permalink by default", items[1].URL)
	}
	if items[2].URL != "https://regulator.example.org/hearings/spectrum" {
		t.Errorf("item 3 URL %q", items[2].URL)
	}
}

func TestAtomIDsAreComparedCharacterByCharacter(t *testing.T) {
	items, _ := readFeedFixture(t, "atom-ids-no-links.atom", "")
	seen := map[string]bool{}
	for _, it := range items {
		if seen[it.ID] {
			t.Errorf("two entries share identity %q", it.ID)
		}
		seen[it.ID] = true
	}
	if len(items) != 4 || len(seen) != 4 {
		t.Fatalf("%d items, %d identities, want 4 of each", len(items), len(seen))
	}
	// The id is still the link shown.
	if items[0].URL != "https://gazette.example.org/notices#entry-101" {
		t.Errorf("URL %q", items[0].URL)
	}
}

func TestFeedDatesWithZoneNames(t *testing.T) {
	items, _ := readFeedFixture(t, "dates-zones.rss", "")
	want := map[string]string{
		"MEST": "2026-10-20T09:45:00Z", "MET": "2026-11-03T10:45:00Z",
		"CEST": "2026-10-20T09:45:00Z", "CET": "2026-11-03T10:45:00Z",
		"EDT": "2026-10-20T15:45:00Z", "EST": "2026-11-03T16:45:00Z",
		"PST": "2026-11-03T19:45:00Z", "PDT": "2026-10-20T18:45:00Z",
		"Etc/GMT-2": "2026-10-20T09:45:00Z", "Etc/GMT+5": "2026-10-20T16:45:00Z",
		"GMT-01:01": "2026-10-20T12:46:00Z", "GMT+0200": "2026-10-20T09:45:00Z",
		"BST": "2026-10-20T10:45:00Z", "AEST": "2026-10-20T01:45:00Z",
	}
	if len(items) != len(want) {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		if got := it.Published.Format(time.RFC3339); got != want[it.Title] {
			t.Errorf("%s: %s, want %s", it.Title, got, want[it.Title])
		}
	}
}

func TestFeedDatesInOtherLanguages(t *testing.T) {
	items, _ := readFeedFixture(t, "dates-languages.rss", "")
	if len(items) != 10 {
		t.Fatalf("%d items", len(items))
	}
	for _, it := range items {
		want := "2026-10-20T11:45:00Z" // read in the configured zone, UTC here
		if strings.HasSuffix(it.Title, "abbr") {
			want = "2026-10-20T09:45:00Z" // +0200
		}
		if got := it.Published.Format(time.RFC3339); got != want {
			t.Errorf("%s: %s, want %s", it.Title, got, want)
		}
	}
}

// A CMS that forgets to escape "<" forgets it in every item: each is
// repaired, in one pass, and the report lists them up to its bound.
func TestEveryItemWithAnUnescapedLessThanIsRepaired(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Tenders</title>`)
	for i := 1; i <= 300; i++ {
		b.WriteString("<item><title>Tender " + strconv.Itoa(i) + ": value < €10,000</title><link>https://tenders.example/" + strconv.Itoa(i) + "</link>" +
			"<description><![CDATA[<p>Deadline <b>soon</b></p>]]></description></item>\n")
	}
	b.WriteString("</channel></rss>")
	items, rep, err := ParseReport(Source{ID: "t"}, []byte(b.String()), "https://tenders.example/feed", "", time.UTC)
	if err != nil || len(items) != 300 {
		t.Fatalf("%v, %d items, want 300", err, len(items))
	}
	if items[299].Title != "Tender 300: value < €10,000" || items[0].Summary != "Deadline soon" {
		t.Errorf("item 300 %q, item 1 summary %q", items[299].Title, items[0].Summary)
	}
	if len(rep.Repairs) != maxReported+1 || rep.Repairs[0].Position != 1 || rep.Repairs[49].Position != 50 || rep.Repairs[maxReported].What != "more repairs not listed" {
		t.Errorf("%d repairs, first %+v, last %+v", len(rep.Repairs), rep.Repairs[0], rep.Repairs[len(rep.Repairs)-1])
	}
}
