package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/policywire/policywire/bot/matrix"
)

func tinyOptions(t *testing.T) Options {
	o := QuickOptions()
	o.Runs = []RunSpec{{Sources: 20, Concurrency: 4}}
	o.ChangedShare = 0.25
	o.IngestSources = 20
	o.FloorSources = 10
	o.SearchSizes = []int{500}
	o.SearchQueries = 30
	o.Dir = t.TempDir()
	return o
}

// TestRunTiny runs the whole bench in-process on a tiny world and checks
// that the pipeline behaved: every alert at the sink exactly once, the 304
// cycle silent, the changed sources' items found and delivered.
func TestRunTiny(t *testing.T) {
	var progress bytes.Buffer
	o := tinyOptions(t)
	o.Progress = &progress
	var heap bytes.Buffer
	o.HeapProfile = &heap
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatalf("Run: %v\nprogress:\n%s", err, progress.String())
	}
	if len(rep.Failures) != 0 {
		t.Fatalf("failures: %v", rep.Failures)
	}
	if runtime.GOOS == "linux" {
		// A pprof profile is a gzipped protocol buffer.
		zr, err := gzip.NewReader(&heap)
		if err != nil {
			t.Fatalf("heap profile at the peak: %v", err)
		}
		if b, err := io.ReadAll(zr); err != nil || len(b) < 100 {
			t.Errorf("heap profile at the peak: %d bytes, %v", len(b), err)
		}
	}
	if len(rep.Pipeline) != 1 || len(rep.Pipeline[0].Cycles) != 3 {
		t.Fatalf("pipeline runs: %+v", rep.Pipeline)
	}
	p := rep.Pipeline[0]
	cold, steady, changed := p.Cycles[0], p.Cycles[1], p.Cycles[2]
	if cold.Fetched != 20 || cold.Alerts == 0 || cold.Delivered != cold.Alerts {
		t.Errorf("cold cycle: %+v", cold)
	}
	if steady.NotModified != 20 || steady.Alerts != 0 || steady.Delivered != 0 {
		t.Errorf("steady cycle: %+v", steady)
	}
	if changed.Fetched != 5 || changed.NotModified != 15 || changed.NewItems < 5 || changed.Delivered != changed.Alerts {
		t.Errorf("changed cycle: %+v", changed)
	}
	if changed.Alerts > 0 && (p.ChangeToMessage.Count != changed.Alerts || p.PollToMessage.Count != changed.Alerts) {
		t.Errorf("latency samples %d and %d for %d alerts", p.ChangeToMessage.Count, p.PollToMessage.Count, changed.Alerts)
	}
	for _, c := range p.Cycles {
		if runtime.GOOS == "linux" && (c.PeakAnonRSSBytes <= 0 || c.PeakRSSBytes < c.PeakAnonRSSBytes || c.PeakRSSBytes > p.PeakRSSBytes) {
			t.Errorf("%s cycle: peak VmRSS %d, anon %d; the run's peak %d", c.Name, c.PeakRSSBytes, c.PeakAnonRSSBytes, p.PeakRSSBytes)
		}
	}
	if p.ArchivedItems < 20*20 {
		t.Errorf("archived %d items from 20 sources of at least 20 items", p.ArchivedItems)
	}
	if rep.Ingest.Items < 20*20 || rep.Ingest.NewItemsPerSecond <= 0 || rep.Ingest.Alerts == 0 {
		t.Errorf("ingest: %+v", rep.Ingest)
	}
	if rep.Floor.GofeedCPUSeconds <= 0 || rep.Floor.Items < 10*20 {
		t.Errorf("floor: %+v", rep.Floor)
	}
	if len(rep.Search) != 1 || rep.Search[0].Searches != 30 || rep.Search[0].IndexBytes == 0 {
		t.Errorf("search: %+v", rep.Search)
	}

	if matrix.EncryptionBuiltIn {
		if e := rep.Encrypt; e.Alerts != encryptAlerts || e.PerAlert.Count != encryptAlerts || e.PerAlert.Max <= 0 || e.MeanMS <= 0 {
			t.Errorf("encryption: %+v", e)
		}
	} else if rep.Encrypt.Skipped == "" || rep.Encrypt.Alerts != 0 {
		t.Errorf("encryption measured in a build without it: %+v", rep.Encrypt)
	}

	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"steady (all 304)", "25% changed", "Checks: passed", "search p99", "Matrix encryption"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON report does not decode: %v", err)
	}
	if len(back.Results) != len(Targets()) {
		t.Errorf("JSON has %d target results, want %d", len(back.Results), len(Targets()))
	}
}

// TestFixtureFeeds checks the synthetic sources: sizes and item counts in
// range, parseable by gofeed, ETag and 304 honoured, and a change visible.
func TestFixtureFeeds(t *testing.T) {
	epoch := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	f, err := StartFixtures(FixtureConfig{Sources: 30, Seed: 7, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	langs := map[string]bool{}
	formats := map[string]bool{}
	etags := make([]string, 30)
	for i := range 30 {
		resp, err := http.Get(FeedURL(f.URL(), i))
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		resp.Body.Close()
		etags[i] = resp.Header.Get("ETag")
		if n := body.Len(); n < 25<<10 || n > 215<<10 {
			t.Errorf("source %d: body of %d bytes, want 30 to 200 KB", i, n)
		}
		feed, err := gofeed.NewParser().Parse(bytes.NewReader(body.Bytes()))
		if err != nil {
			t.Fatalf("source %d: %v", i, err)
		}
		if n := len(feed.Items); n < 20 || n > 50 {
			t.Errorf("source %d: %d items", i, n)
		}
		langs[feed.Language] = true
		formats[feed.FeedType] = true
	}
	if len(langs) != 3 || len(formats) != 2 {
		t.Errorf("languages %v, formats %v: want en/fr/de and rss/atom", langs, formats)
	}

	notModified := func(i int) bool {
		req, _ := http.NewRequest(http.MethodGet, FeedURL(f.URL(), i), nil)
		req.Header.Set("If-None-Match", etags[i])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNotModified
	}
	for i := range 30 {
		if !notModified(i) {
			t.Fatalf("source %d: no 304 for its own ETag", i)
		}
	}
	c := fixtureClient{base: f.URL(), hc: http.DefaultClient}
	ch, err := c.change(context.Background(), 0.1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Added) != 3 || ch.VisibleAt == 0 {
		t.Fatalf("change: %+v", ch)
	}
	for i := range 30 {
		_, changed := ch.Added[sourceID(i)]
		if notModified(i) == changed {
			t.Errorf("source %d: changed %v, yet 304 %v", i, changed, !changed)
		}
	}
	if _, err := c.change(context.Background(), 2); err == nil {
		t.Error("a share of 2 was accepted")
	}
}

// TestSinkRecordsAlerts checks the Slack sink against both body encodings.
func TestSinkRecordsAlerts(t *testing.T) {
	f, err := StartFixtures(FixtureConfig{Sources: 1, Seed: 1, Epoch: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	form := "channel=C1&text=Title+%E2%80%94+Bench+source+src-00003&metadata=" +
		`%7B%22event_type%22%3A%22policywire_alert%22%2C%22event_payload%22%3A%7B%22alert_id%22%3A%22a1%22%7D%7D`
	resp, err := http.Post(f.URL()+"/api/chat.postMessage", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Post(f.URL()+"/api/chat.postMessage", "application/json",
		strings.NewReader(`{"channel":"C2","text":"x src-00004","metadata":{"event_type":"policywire_alert","event_payload":{"alert_id":"a2"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || !answer.OK || answer.TS == "" {
		t.Fatalf("answer %+v, %v", answer, err)
	}
	resp.Body.Close()
	got := f.takeDeliveries()
	if len(got) != 2 || got[0].AlertID != "a1" || got[0].Source != "src-00003" || got[0].Channel != "C1" ||
		got[1].AlertID != "a2" || got[1].Source != "src-00004" {
		t.Fatalf("deliveries: %+v", got)
	}
	if again := f.takeDeliveries(); len(again) != 0 {
		t.Fatalf("deliveries not cleared: %+v", again)
	}
}

// TestRunReportsMisbehaviour makes sure a broken pipeline fails the run:
// a sink that drops a message must be caught.
func TestRunReportsMisbehaviour(t *testing.T) {
	r := &runner{rep: &Report{}, opts: Options{Progress: &bytes.Buffer{}}}
	env := &pipelineEnv{cfg: benchConfig(2, 1, "http://127.0.0.1", ""), slackTo: map[string]string{}, seen: map[string]bool{}}
	c := Cycle{Name: "steady (all 304)", Sources: 2, NotModified: 2, Alerts: 1}
	r.checkCycle(env, c, nil, nil, nil)
	got := strings.Join(r.rep.Failures, "; ")
	if !strings.Contains(got, "nothing changed") || !strings.Contains(got, "1 alerts written to the outbox, 0 messages") {
		t.Errorf("a 304 cycle with an alert and no message gave the failures %q", got)
	}
}

// TestMain doubles as the fixture server's child process: TestChildProcess
// starts this test binary with POLICYWIRE_BENCH_FIXTURE_CHILD set.
func TestMain(m *testing.M) {
	if os.Getenv("POLICYWIRE_BENCH_FIXTURE_CHILD") == "1" {
		if err := serveChild(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveChild(args []string) error {
	fs := flag.NewFlagSet("fixtures", flag.ContinueOnError)
	var cfg FixtureConfig
	var epoch string
	fs.IntVar(&cfg.Sources, "sources", 0, "")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "")
	fs.StringVar(&epoch, "epoch", "", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Epoch, err = time.Parse(time.RFC3339Nano, epoch); err != nil {
		return err
	}
	return ServeFixtures(context.Background(), cfg, os.Stdin, os.Stdout)
}

// TestChildProcess runs the fixture server in a child process, as
// `policywire bench` does, and checks that it serves, that the parent
// gets its URL, and that closing its input stops it.
func TestChildProcess(t *testing.T) {
	t.Setenv("POLICYWIRE_BENCH_FIXTURE_CHILD", "1")
	spawn := ChildProcess(os.Args[0])
	epoch := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	base, stop, err := spawn(context.Background(), FixtureConfig{Sources: 3, Seed: 9, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(FeedURL(base, 2))
	if err != nil {
		stop()
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	in := newFeedSource(9, 2)
	want := in.render(9, initialState(in, epoch), epoch, base)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, want) {
		t.Errorf("child served status %d and %d bytes; want the %d bytes of the same seed", resp.StatusCode, len(body), len(want))
	}
	if _, err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if _, err := http.Get(FeedURL(base, 0)); err == nil {
		t.Error("the child still serves after stop")
	}
}
