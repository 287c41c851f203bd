package store

import (
	"slices"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

func TestIdentityRules(t *testing.T) {
	day := time.Date(2026, 9, 25, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		first  policywire.Item
		second policywire.Item
	}{
		{
			name:   "same canonical URL, GUID changes (GOV.UK Atom id churn)",
			first:  item("govuk-fcdo", "https://www.gov.uk/government/news/uk-appoints-technology-envoy#2026-09-25T09:00:00Z", "https://www.gov.uk/government/news/uk-appoints-technology-envoy", "Press release: UK appoints new technology envoy to Silicon Valley", time.Time{}),
			second: item("govuk-fcdo", "https://www.gov.uk/government/news/uk-appoints-technology-envoy#2026-09-25T15:42:10Z", "https://www.gov.uk/government/news/uk-appoints-technology-envoy", "Press release: UK appoints new technology envoy to Silicon Valley", time.Time{}),
		},
		{
			name:   "same GUID, URL changes",
			first:  item("council-press", "1188042", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/cyber-posture/", "Cybersecurity: Council adopts conclusions on the EU's cyber posture", day),
			second: item("council-press", "1188042", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/cybersecurity-council-adopts-conclusions-on-the-eu-s-cyber-posture/", "Cybersecurity: Council adopts conclusions on the EU's cyber posture", day),
		},
		{
			name:   "no URL, no GUID: hash of source, title and date",
			first:  item("eeas-press", "", "", "Statement by the High Representative on the situation in Sudan", day),
			second: item("eeas-press", "", "", "Statement by the High Representative on the situation in Sudan", day),
		},
		{
			name:   "GUID only, re-published",
			first:  item("eurlex", "CELEX:32026R1234", "", "CELEX:32026R1234: Commission Implementing Regulation (EU) 2026/1234 on fishing opportunities", day),
			second: item("eurlex", "CELEX:32026R1234", "", "CELEX:32026R1234: Commission Implementing Regulation (EU) 2026/1234 on fishing opportunities", day),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk)
			route := routeAllTo("eu-desk")
			r1 := ingest(t, s, tt.first.Source, route, tt.first)
			if r1.New != 1 || len(r1.Alerts) != 1 {
				t.Fatalf("first poll: %+v, want one new item and one alert", r1)
			}
			clk.Advance(10 * time.Minute)
			if unseen, err := s.Unseen([]policywire.Item{tt.second}); err != nil || len(unseen) != 0 {
				t.Fatalf("Unseen(second) = %v, %v; want none", unseen, err)
			}
			r2 := ingest(t, s, tt.second.Source, route, tt.second)
			if r2.New != 0 || r2.Unchanged != 1 || len(r2.Alerts) != 0 {
				t.Fatalf("second poll: %+v, want the item unchanged and no alert", r2)
			}
			if rows := outbox(t, s, "eu-desk"); len(rows) != 1 {
				t.Fatalf("outbox has %d rows, want 1", len(rows))
			}
			if n, _ := s.ItemCount(); n != 1 {
				t.Fatalf("archive has %d items, want 1", n)
			}
			// The item is found under either identity it arrived with.
			for _, id := range []string{tt.first.ID, tt.second.ID} {
				if _, ok, err := s.Item(id); err != nil || !ok {
					t.Errorf("Item(%q) = %v, %v", id, ok, err)
				}
			}
		})
	}
}

func TestGUIDChangeKeepsNewURL(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	day := clk.Now().Add(-time.Hour)
	a := item("council-press", "1188042", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/cyber-posture/", "Cybersecurity: Council adopts conclusions on the EU's cyber posture", day)
	ingest(t, s, "council-press", nil, a)
	b := a
	b.URL = "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/eu-cyber-posture/"
	b.CanonicalURL = b.URL
	b.ID = policywire.Identity(b)
	ingest(t, s, "council-press", nil, b)
	got, ok, err := s.Item(a.ID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if got.URL != b.URL {
		t.Errorf("stored URL %q, want the new link %q", got.URL, b.URL)
	}
	// Once the link moved, the new link alone identifies the item too.
	c := b
	c.GUID = ""
	c.ID = policywire.Identity(c)
	if res := ingest(t, s, "council-press", routeAllTo("x"), c); res.Unchanged != 1 {
		t.Errorf("item by its new link: %+v, want unchanged", res)
	}
}

func TestGOVUKIDChurnGivesOneAlert(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	link := "https://www.gov.uk/government/news/foreign-secretary-announces-new-cyber-diplomacy-fund"
	poll := func(updated time.Time, title string) IngestResult {
		it := policywire.Item{
			Source: "govuk-fcdo", GUID: link + "#" + updated.Format(time.RFC3339), URL: link, CanonicalURL: link,
			Title: title, Summary: "The fund supports partner countries' cyber resilience.", Updated: updated,
		}
		it.ID = policywire.Identity(it)
		return ingest(t, s, "govuk-fcdo", routeIfTitle("cyber", "eu-desk"), it)
	}
	t0 := clk.Now().Add(-2 * time.Hour)
	if r := poll(t0, "Press release: Foreign Secretary announces new cyber diplomacy fund"); len(r.Alerts) != 1 {
		t.Fatalf("first poll: %+v", r)
	}
	for i := 1; i <= 3; i++ {
		clk.Advance(15 * time.Minute)
		if r := poll(t0.Add(time.Duration(i)*time.Hour), "Press release: Foreign Secretary announces new cyber diplomacy fund"); len(r.Alerts) != 0 || r.Unchanged != 1 {
			t.Fatalf("poll %d after the page was updated: %+v, want unchanged", i, r)
		}
	}
	// The page's title is corrected: a revision, stored, not alerted.
	clk.Advance(15 * time.Minute)
	r := poll(t0.Add(5*time.Hour), "Press release: Foreign Secretary announces £10 million cyber diplomacy fund")
	if r.Revised != 1 || len(r.Alerts) != 0 || len(r.Updated) != 1 {
		t.Fatalf("revised title: %+v, want one revision, no alert", r)
	}
	rows := outbox(t, s, "eu-desk")
	if len(rows) != 1 {
		t.Fatalf("eu-desk outbox: %d rows, want 1", len(rows))
	}
	// The alert still waiting shows the corrected title.
	if got := rows[0].Alert.Item.Title; got != "Press release: Foreign Secretary announces £10 million cyber diplomacy fund" {
		t.Errorf("queued alert title %q", got)
	}
	info, ok, err := s.ItemInfo(rows[0].Alert.Item.ID)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if info.Revisions != 1 || info.PrevTitle != "Press release: Foreign Secretary announces new cyber diplomacy fund" {
		t.Errorf("revisions %d, previous title %q", info.Revisions, info.PrevTitle)
	}
	// The first date seen stays the publication date.
	if !info.Item.Published.Equal(t0) {
		t.Errorf("published %v, want the first updated time %v", info.Item.Published, t0)
	}
}

func TestSummaryRevisionUsesFeedText(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	it := item("council-press", "1188100", "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/agrifish/", "Agriculture and Fisheries Council, 25 September 2026: main results", clk.Now())
	it.Summary = "Ministers discussed the market situation."
	generated := it
	generated.Summary = "Ministers discussed the market situation, in particular the effects of the drought on cereal prices."
	st, _ := s.SourceState("council-press")
	if _, err := s.Ingest(Batch{Source: "council-press", Items: []policywire.Item{generated}, State: st, FeedSummaries: map[string]string{it.ID: it.Summary}}, nil); err != nil {
		t.Fatal(err)
	}
	// The next poll carries the feed's own summary: nothing changed.
	if r := ingest(t, s, "council-press", nil, it); r.Unchanged != 1 || r.Revised != 0 {
		t.Fatalf("same feed text: %+v, want unchanged", r)
	}
	got, _, _ := s.Item(it.ID)
	if got.Summary != generated.Summary {
		t.Errorf("summary %q: the generated summary must be kept", got.Summary)
	}
	// The feed edits its summary: a revision.
	it.Summary = "Ministers discussed the market situation and adopted fishing opportunities for the Baltic Sea."
	if r := ingest(t, s, "council-press", nil, it); r.Revised != 1 {
		t.Fatalf("edited feed summary: %+v, want a revision", r)
	}
}

func TestSameBatchTwiceChangesNothing(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	batch := realisticBatch(clk.Now())
	route := routeIfTitle("digital", "eu-desk", "diplomacy-room")
	first := ingest(t, s, "council-press", route, batch...)
	if first.New != len(batch) || len(first.Alerts) == 0 {
		t.Fatalf("first ingest: %+v", first)
	}
	before := dump(t, s)
	second := ingest(t, s, "council-press", route, batch...)
	if second.Unchanged != len(batch) || second.New+second.Revised+len(second.Alerts)+len(second.NewItems) != 0 {
		t.Fatalf("second ingest: %+v, want everything unchanged", second)
	}
	if after := dump(t, s); after != before {
		t.Errorf("the database changed on ingesting the same batch again:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestReorderedAndRepublishedBatchGiveNoAlert(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	batch := realisticBatch(clk.Now())
	route := routeAllTo("eu-desk")
	ingest(t, s, "council-press", route, batch...)
	want := titles(outbox(t, s, "eu-desk"))

	clk.Advance(10 * time.Minute)
	reordered := slices.Clone(batch)
	slices.Reverse(reordered)
	if r := ingest(t, s, "council-press", route, reordered...); len(r.Alerts) != 0 || r.New != 0 {
		t.Fatalf("re-ordered batch: %+v", r)
	}
	// Re-published: every item updated with a new timestamp, and the feed
	// rewrote its ids.
	clk.Advance(10 * time.Minute)
	var republished []policywire.Item
	for _, it := range batch {
		it.Updated = clk.Now()
		it.GUID = "republished-" + it.GUID
		it.ID = policywire.Identity(it)
		republished = append(republished, it)
	}
	if r := ingest(t, s, "council-press", route, republished...); len(r.Alerts) != 0 || r.New != 0 || r.Unchanged != len(batch) {
		t.Fatalf("re-published batch: %+v", r)
	}
	if got := titles(outbox(t, s, "eu-desk")); !slices.Equal(got, want) {
		t.Errorf("outbox %q, want %q", got, want)
	}
}

// councilAndEEAS is the same story told by the Council's feed and the
// EEAS press page, an hour apart.
func councilAndEEAS(now time.Time) (council, eeas policywire.Item) {
	council = policywire.Item{
		Source: "council-press", GUID: "1188310",
		URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/09/25/digital-diplomacy-council-approves-conclusions/",
		Title:     "Digital diplomacy: Council approves conclusions",
		Summary:   "The Council approved conclusions on EU digital diplomacy, setting out a stronger EU role in global digital governance.",
		Updated:   now.Add(-3 * time.Hour),
		Published: time.Time{},
	}
	council.CanonicalURL = council.URL
	council.ID = policywire.Identity(council)
	eeas = policywire.Item{
		Source:       "eeas-press",
		URL:          "https://www.eeas.europa.eu/eeas/council-approves-conclusions-digital-diplomacy_en",
		CanonicalURL: "https://www.eeas.europa.eu/eeas/council-approves-conclusions-digital-diplomacy_en",
		Title:        "Council approves conclusions on digital diplomacy",
		Published:    now.Add(-2 * time.Hour),
	}
	eeas.ID = policywire.Identity(eeas)
	return council, eeas
}

// storyRouter: eu-desk wants digital diplomacy from any source; the
// diplomacy room only listens to the EEAS.
func storyRouter(it policywire.Item) []Route {
	var out []Route
	if containsFold(it.Title, "diplomacy") {
		out = append(out, Route{Channel: "eu-desk", Topics: []string{"digital-diplomacy"}})
		if it.Source == "eeas-press" {
			out = append(out, Route{Channel: "diplomacy-room", Topics: []string{"digital-diplomacy"}})
		}
	}
	return out
}

func TestStoryFromTwoSourcesWhileQueued(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	council, eeas := councilAndEEAS(clk.Now())
	r1 := ingest(t, s, "council-press", storyRouter, council)
	if len(r1.Alerts) != 1 || r1.Alerts[0].Channel != "eu-desk" {
		t.Fatalf("council: %+v", r1)
	}
	clk.Advance(time.Hour)
	r2 := ingest(t, s, "eeas-press", storyRouter, eeas)
	if r2.New != 1 || len(r2.NewItems) != 1 {
		t.Fatalf("eeas: %+v, want a new archived item", r2)
	}
	// eu-desk: still one alert, now naming the EEAS as well.
	desk := outbox(t, s, "eu-desk")
	if len(desk) != 1 {
		t.Fatalf("eu-desk has %d alerts, want 1: %q", len(desk), titles(desk))
	}
	if desk[0].Alert.Item.Source != "council-press" || !equalStrings(alsoSources(desk[0].Alert.Also), []string{"eeas-press"}) {
		t.Errorf("eu-desk alert from %s, also %v", desk[0].Alert.Item.Source, alsoSources(desk[0].Alert.Also))
	}
	if a := desk[0].Alert.Also[0]; a.SourceName != "EEAS – press material" || a.URL != eeas.URL || a.Title != eeas.Title {
		t.Errorf("also reported by %+v", a)
	}
	// The diplomacy room never had the story: one alert, listing the Council.
	room := outbox(t, s, "diplomacy-room")
	if len(room) != 1 || room[0].Alert.Item.Source != "eeas-press" || !equalStrings(alsoSources(room[0].Alert.Also), []string{"council-press"}) {
		t.Fatalf("diplomacy-room: %+v", room)
	}
	if len(r2.Alerts) != 1 || r2.Alerts[0].Channel != "diplomacy-room" {
		t.Errorf("new alerts of the EEAS poll: %+v", r2.Alerts)
	}
	also, err := s.AlsoReported(council.ID)
	if err != nil || !equalStrings(alsoSources(also), []string{"eeas-press"}) {
		t.Errorf("AlsoReported(council) = %v, %v", also, err)
	}
	also, _ = s.AlsoReported(eeas.ID)
	if !equalStrings(alsoSources(also), []string{"council-press"}) {
		t.Errorf("AlsoReported(eeas) = %v", also)
	}
	// Both polls again: nothing new, no duplicate "also".
	clk.Advance(time.Hour)
	ingest(t, s, "council-press", storyRouter, council)
	ingest(t, s, "eeas-press", storyRouter, eeas)
	desk = outbox(t, s, "eu-desk")
	if len(desk) != 1 || len(desk[0].Alert.Also) != 1 || len(outbox(t, s, "diplomacy-room")) != 1 {
		t.Errorf("after polling again: eu-desk %+v", desk)
	}
}

func TestStoryFromTwoSourcesAfterDelivery(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	council, eeas := councilAndEEAS(clk.Now())
	ingest(t, s, "council-press", storyRouter, council)
	row := outbox(t, s, "eu-desk")[0]
	if err := s.Delivered("eu-desk", row.Key, "1727270000.000100"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	r := ingest(t, s, "eeas-press", storyRouter, eeas)
	// The delivered message is edited to name the new source; no new alert.
	if got := outbox(t, s, "eu-desk"); len(got) != 1 || got[0].Edit == nil || got[0].Edit.Ref != "1727270000.000100" {
		t.Fatalf("eu-desk rows %q, want one edit of the delivered message", titles(got))
	}
	if len(r.Alerts) != 1 || r.Alerts[0].Channel != "diplomacy-room" {
		t.Errorf("alerts %+v, want only the diplomacy room's", r.Alerts)
	}
	also, _ := s.AlsoReported(council.ID)
	if !equalStrings(alsoSources(also), []string{"eeas-press"}) {
		t.Errorf("the member is still recorded: also %v", also)
	}
}

func TestSameURLFromTwoSources(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	link := "https://ec.europa.eu/commission/presscorner/detail/en/ip_26_301"
	rss := item("ec-presscorner", link, link, "Commission opens EU digital diplomacy office in San Francisco", clk.Now().Add(-time.Hour))
	api := item("ec-api", "IP/26/301", link, "Commission opens EU digital diplomacy office in San Francisco", clk.Now().Add(-time.Hour))
	ingest(t, s, "ec-presscorner", routeAllTo("eu-desk"), rss)
	if unseen, _ := s.Unseen([]policywire.Item{api}); len(unseen) != 1 {
		t.Fatalf("the second source's report is not seen yet: %v", unseen)
	}
	r := ingest(t, s, "ec-api", routeAllTo("eu-desk"), api)
	if r.New != 1 || len(r.Alerts) != 0 {
		t.Fatalf("second source: %+v, want a new member and no alert", r)
	}
	rows := outbox(t, s, "eu-desk")
	if len(rows) != 1 || !equalStrings(alsoSources(rows[0].Alert.Also), []string{"ec-api"}) {
		t.Fatalf("eu-desk: %+v", rows)
	}
	if unseen, _ := s.Unseen([]policywire.Item{api, rss}); len(unseen) != 0 {
		t.Errorf("after ingest: unseen %v", unseen)
	}
	if r := ingest(t, s, "ec-api", routeAllTo("eu-desk"), api); r.Unchanged != 1 {
		t.Errorf("again: %+v", r)
	}
}

func TestTitlesThatMustNotCluster(t *testing.T) {
	now := newClock().Now()
	tests := []struct {
		name string
		a, b policywire.Item
	}{
		{
			name: "short titles",
			a:    item("council-press", "1", "https://www.consilium.europa.eu/en/press/statement-1/", "Press statement", now),
			b:    item("eeas-press", "", "https://www.eeas.europa.eu/eeas/press-statement_en", "Press statement", now),
		},
		{
			name: "different topics with similar wording",
			a:    item("council-press", "2", "https://www.consilium.europa.eu/en/press/a/", "Council adopts conclusions on digital diplomacy", now),
			b:    item("eeas-press", "", "https://www.eeas.europa.eu/eeas/b_en", "Council adopts conclusions on cyber diplomacy", now),
		},
		{
			name: "same title more than 14 days apart",
			a:    item("council-press", "3", "https://www.consilium.europa.eu/en/press/c/", "EU-Japan Digital Partnership Council meets in Tokyo", now.Add(-20*24*time.Hour)),
			b:    item("eeas-press", "", "https://www.eeas.europa.eu/eeas/d_en", "EU-Japan Digital Partnership Council meets in Tokyo", now),
		},
		{
			name: "near-identical titles from one source",
			a:    item("council-press", "4", "https://www.consilium.europa.eu/en/press/e/", "Agriculture and Fisheries Council, 22-23 September 2026", now),
			b:    item("council-press", "5", "https://www.consilium.europa.eu/en/press/f/", "Agriculture and Fisheries Council, 22-23 September 2026", now),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := openTest(t, clk)
			ingest(t, s, tt.a.Source, routeAllTo("eu-desk"), tt.a)
			r := ingest(t, s, tt.b.Source, routeAllTo("eu-desk"), tt.b)
			if len(r.Alerts) != 1 {
				t.Fatalf("second item: %+v, want its own alert", r)
			}
			rows := outbox(t, s, "eu-desk")
			if len(rows) != 2 || len(rows[0].Alert.Also)+len(rows[1].Alert.Also) != 0 {
				t.Errorf("eu-desk: %d rows, also %v %v", len(rows), rows[0].Alert.Also, rows[len(rows)-1].Alert.Also)
			}
		})
	}
}

func TestClusterAcrossBoilerplateAndAccents(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	now := clk.Now()
	gov := item("govuk-fcdo", "", "https://www.gov.uk/government/news/joint-statement-on-cyber-resilience", "Press release: Joint statement on cyber resilience of undersea cables", now.Add(-time.Hour))
	fr := item("france-diplomatie", "", "https://www.diplomatie.gouv.fr/en/joint-statement-cables", "Statement: Joint statement on cyber résilience of undersea cables", now)
	ingest(t, s, gov.Source, routeAllTo("eu-desk"), gov)
	r := ingest(t, s, fr.Source, routeAllTo("eu-desk"), fr)
	if len(r.Alerts) != 0 {
		t.Fatalf("alerts %+v, want the story joined", r.Alerts)
	}
	if rows := outbox(t, s, "eu-desk"); len(rows) != 1 || !equalStrings(alsoSources(rows[0].Alert.Also), []string{"france-diplomatie"}) {
		t.Fatalf("eu-desk: %+v", rows)
	}
}

func TestClusteringSurvivesReopen(t *testing.T) {
	clk := newClock()
	path := t.TempDir() + "/policywire.db"
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	council, eeas := councilAndEEAS(clk.Now())
	ingest(t, s, "council-press", storyRouter, council)
	s.Close()
	clk.Advance(time.Hour)
	s, err = Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ingest(t, s, "eeas-press", storyRouter, eeas)
	if rows := outbox(t, s, "eu-desk"); len(rows) != 1 || len(rows[0].Alert.Also) != 1 {
		t.Fatalf("after reopening, eu-desk: %+v", rows)
	}
}

func TestBackfill(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	now := clk.Now()
	old := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/eu-hosts-cyber-dialogue_en", "EU and Japan hold fourth cyber dialogue in Brussels", now.Add(-10*24*time.Hour))
	recent := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/tech-envoy-san-francisco_en", "EU digital diplomacy office opens in San Francisco", now.Add(-5*time.Hour))
	route := routeAllTo("eu-desk")
	st, _ := s.SourceState("eeas-press")
	if st.FirstPollDone {
		t.Fatal("a new source must not have had its first poll")
	}
	res, err := s.Ingest(Batch{Source: "eeas-press", Items: []policywire.Item{old, recent}, State: st, Backfill: 72 * time.Hour}, route)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backfilled != 1 || res.New != 1 || len(res.NewItems) != 2 {
		t.Fatalf("first poll: %+v", res)
	}
	if got := titles(outbox(t, s, "eu-desk")); !equalStrings(got, []string{recent.Title}) {
		t.Fatalf("alerted %q, want only the recent item", got)
	}
	if _, ok, _ := s.Item(old.ID); !ok {
		t.Error("the old item must be archived")
	}
	st, _ = s.SourceState("eeas-press")
	if !st.FirstPollDone || st.Items != 2 || !st.LastNewItem.Equal(now) {
		t.Errorf("state after first poll: %+v", st)
	}
	// Later polls route everything new, however old.
	older := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/late-addition_en", "Late addition: EU statement on digital rights in the Western Balkans", now.Add(-9*24*time.Hour))
	res, err = s.Ingest(Batch{Source: "eeas-press", Items: []policywire.Item{old, recent, older}, State: st, Backfill: 72 * time.Hour}, route)
	if err != nil {
		t.Fatal(err)
	}
	if res.New != 1 || res.Backfilled != 0 || len(res.Alerts) != 1 {
		t.Errorf("second poll: %+v", res)
	}
	st, _ = s.SourceState("eeas-press")
	if st.Items != 3 || len(st.RecentNew) != 1 {
		t.Errorf("state after second poll: items %d, recent %v", st.Items, st.RecentNew)
	}
}

func TestBackfillZeroRoutesEverything(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	old := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/a_en", "EU and Japan hold fourth cyber dialogue in Brussels", clk.Now().Add(-300*24*time.Hour))
	res := ingest(t, s, "eeas-press", routeAllTo("eu-desk"), old)
	if res.New != 1 || len(res.Alerts) != 1 {
		t.Fatalf("%+v", res)
	}
}

func TestPublishedDefaults(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	council, _ := councilAndEEAS(clk.Now())
	undated := item("eeas-press", "", "https://www.eeas.europa.eu/eeas/undated_en", "EEAS spokesperson statement on the attack on a hospital in El Fasher", time.Time{})
	ingest(t, s, "council-press", nil, council)
	ingest(t, s, "eeas-press", nil, undated)
	got, _, _ := s.Item(council.ID)
	if !got.Published.Equal(council.Updated) {
		t.Errorf("no pubDate: published %v, want a10:updated %v", got.Published, council.Updated)
	}
	got, _, _ = s.Item(undated.ID)
	if !got.Published.Equal(clk.Now()) {
		t.Errorf("undated: published %v, want first seen %v", got.Published, clk.Now())
	}
}

func TestReusedGUIDsAreNotTrusted(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	a := item("france-diplomatie", "1", "https://www.diplomatie.gouv.fr/en/a", "France appoints ambassador for digital affairs", clk.Now())
	b := item("france-diplomatie", "1", "https://www.diplomatie.gouv.fr/en/b", "Minister receives the Cybersecurity Tech Accord", clk.Now())
	r := ingest(t, s, "france-diplomatie", routeAllTo("eu-desk"), a, b)
	if r.New != 2 || len(r.Alerts) != 2 {
		t.Fatalf("%+v, want two distinct items", r)
	}
}

func TestOutboxPublicationOrder(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	now := clk.Now()
	batch := []policywire.Item{
		item("council-press", "3", "https://www.consilium.europa.eu/en/press/3/", "Third: Council adopts sanctions package", now.Add(-1*time.Hour)),
		item("council-press", "1", "https://www.consilium.europa.eu/en/press/1/", "First: EU-US Trade and Technology Council meets", now.Add(-3*time.Hour)),
		item("council-press", "2", "https://www.consilium.europa.eu/en/press/2/", "Second: Council approves digital diplomacy conclusions", now.Add(-2*time.Hour)),
	}
	ingest(t, s, "council-press", routeAllTo("eu-desk"), batch...)
	want := []string{batch[1].Title, batch[2].Title, batch[0].Title}
	if got := titles(outbox(t, s, "eu-desk")); !slices.Equal(got, want) {
		t.Fatalf("outbox order %q, want %q", got, want)
	}
	// A later poll brings an item published in between: it takes its place.
	between := item("council-press", "4", "https://www.consilium.europa.eu/en/press/4/", "Between: Foreign Affairs Council, main results", now.Add(-150*time.Minute))
	ingest(t, s, "council-press", routeAllTo("eu-desk"), between)
	want = []string{batch[1].Title, between.Title, batch[2].Title, batch[0].Title}
	if got := titles(outbox(t, s, "eu-desk")); !slices.Equal(got, want) {
		t.Fatalf("outbox order %q, want %q", got, want)
	}
	rows, _ := s.Outbox("eu-desk", false, 2)
	if len(rows) != 2 {
		t.Errorf("limit 2: %d rows", len(rows))
	}
}

func TestDigestRoutesAndDuplicateRoutes(t *testing.T) {
	clk := newClock()
	s := openTest(t, clk)
	it := item("council-press", "9", "https://www.consilium.europa.eu/en/press/9/", "Council approves conclusions on digital diplomacy", clk.Now())
	res := ingest(t, s, "council-press", func(policywire.Item) []Route {
		return []Route{
			{Channel: "weekly", Topics: []string{"digital-diplomacy"}, Digest: true},
			{Channel: "weekly", Topics: []string{"cyber"}, Digest: true},
			{Channel: "eu-desk", Topics: []string{"digital-diplomacy"}},
		}
	}, it)
	if len(res.Alerts) != 2 {
		t.Fatalf("alerts %+v, want one per channel", res.Alerts)
	}
	rows := outbox(t, s, "weekly")
	if len(rows) != 1 || !rows[0].Digest || !equalStrings(rows[0].Alert.Topics, []string{"digital-diplomacy", "cyber"}) {
		t.Fatalf("weekly: %+v", rows)
	}
	if desk := outbox(t, s, "eu-desk"); desk[0].Digest || desk[0].Alert.ID == rows[0].Alert.ID {
		t.Errorf("eu-desk row %+v", desk[0])
	}
}

func TestIngestRequiresSource(t *testing.T) {
	s := openTest(t, newClock())
	if _, err := s.Ingest(Batch{}, nil); err == nil {
		t.Fatal("a batch without a source must be refused")
	}
}

func containsFold(s, sub string) bool {
	return len(titleWords(s)) > 0 && slices.ContainsFunc(titleWords(s), func(w string) bool { return w == sub })
}

// realisticBatch is one poll of the Council's feed: digital diplomacy among
// everyday business.
func realisticBatch(now time.Time) []policywire.Item {
	titles := []string{
		"Digital diplomacy: Council approves conclusions",
		"Agriculture and Fisheries Council, 22-23 September 2026",
		"EU-Japan Digital Partnership Council: joint statement",
		"Council adopts its position on the 2027 EU budget",
		"Russia: EU prolongs sanctions for a further six months",
		"Cybersecurity: Council adopts conclusions on the EU's cyber posture",
		"Visit of the President of the European Council to Kenya",
		"Fishing opportunities for 2027 in the Baltic Sea: Council reaches agreement",
	}
	var out []policywire.Item
	for i, t := range titles {
		it := item("council-press", "11883"+string(rune('0'+i)), "https://www.consilium.europa.eu/en/press/press-releases/2026/09/2"+string(rune('0'+i))+"/item/", t, time.Time{})
		it.Updated = now.Add(-time.Duration(i) * time.Hour)
		it.Summary = "Press release of the Council of the EU."
		it.ID = policywire.Identity(it)
		out = append(out, it)
	}
	return out
}
