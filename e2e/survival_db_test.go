package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/store"
)

// ingestLoad is a set of sources that keep publishing batches of items,
// so that the daemon polling them every second is always writing.
type ingestLoad struct {
	fx      *testenv.FixtureServer
	mu      sync.Mutex
	feeds   [][]e2eharness.FeedItem
	stop    chan struct{}
	stopped chan struct{}
}

func startIngestLoad(t *testing.T, sources, initial, batch int, every time.Duration) *ingestLoad {
	t.Helper()
	l := &ingestLoad{fx: testenv.NewFixtureServer(t), feeds: make([][]e2eharness.FeedItem, sources),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	for i := range sources {
		l.grow(i, initial)
	}
	go func() {
		defer close(l.stopped)
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(every):
			}
			for i := range sources {
				l.grow(i, batch)
			}
		}
	}()
	t.Cleanup(l.Stop)
	return l
}

// grow publishes n more items on source i; one in a hundred is about
// fisheries, the topic of the test channel.
func (l *ingestLoad) grow(i, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for range n {
		k := len(l.feeds[i]) + 1
		topic := "cyber diplomacy"
		if k%100 == 0 {
			topic = "fisheries"
		}
		l.feeds[i] = append(l.feeds[i], e2eharness.FeedItem{
			Title:       fmt.Sprintf("Load l%02d item %d on %s", i, k, topic),
			Link:        fmt.Sprintf("https://news.example.org/l%02d/%d", i, k),
			Description: fmt.Sprintf("Item %d of source %d, a statement on %s.", k, i, topic),
			Published:   recent().Add(time.Duration(k) * time.Second),
		})
	}
	// Feeds show their newest 300 items.
	shown := l.feeds[i][max(len(l.feeds[i])-300, 0):]
	l.fx.Set(fmt.Sprintf("/l%02d.rss", i), e2eharness.RSS("Load", l.fx.URL, shown), e2eharness.RSSContentType)
}

// Stop ends the publishing.
func (l *ingestLoad) Stop() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.stopped
}

func (l *ingestLoad) sources() []source {
	var out []source
	for i := range l.feeds {
		out = append(out, source{id: fmt.Sprintf("l%02d", i), url: fmt.Sprintf("%s/l%02d.rss", l.fx.URL, i), schedule: "@every 1s"})
	}
	return out
}

// TestSurvivalKillDuringIngest: the daemon ingests batches of new items
// from ten sources every second; SIGKILL at random moments leaves, each
// time, a database that passes bbolt's consistency check, and the archive
// keeps growing across the restarts.
func TestSurvivalKillDuringIngest(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	load := startIngestLoad(t, 10, 100, 15, 300*time.Millisecond)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: sl.URL(), sources: load.sources(),
		topics:   map[string]string{"fisheries": "fisheries"},
		channels: []channel{{id: "fish", slack: "C0FISH", topics: []string{"fisheries"}}},
	}.yaml())
	db := filepath.Join(env.DataDir(), "policywire.db")

	counts := []int{}
	for k := range 5 {
		p := env.Start("run")
		sleepJitter(700*time.Millisecond, 2500*time.Millisecond)
		if !p.Running() {
			t.Fatalf("the daemon exited by itself before kill %d\n%s", k+1, p.Stderr())
		}
		p.Kill()
		counts = append(counts, checkDatabase(t, db))
	}
	t.Logf("archive size after each kill: %v", counts)
	if counts[len(counts)-1] <= counts[0] {
		t.Errorf("the archive did not grow across the kills: %v", counts)
	}
}

// TestSurvivalBackupUnderLoad: `policywire backup` taken from the running
// daemon while it ingests holds every item archived before the backup
// began, passes bbolt's check, and restores to a working installation:
// `run --once` on a copy succeeds, archives what was published since, and
// posts only what the backup had not delivered yet or had never seen.
func TestSurvivalBackupUnderLoad(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	load := startIngestLoad(t, 6, 100, 5, 300*time.Millisecond)
	env := newEnv(t)
	cfg := setup{
		dataDir: env.DataDir(), slackURL: sl.URL(), sources: load.sources(),
		topics:   map[string]string{"fisheries": "fisheries"},
		channels: []channel{{id: "fish", slack: "C0FISH", topics: []string{"fisheries"}}},
	}
	env.WriteConfig(cfg.yaml())
	p := env.Start("run")

	// Wait until every source is in the archive and more keeps coming.
	var before int
	e2eharness.Eventually(t, 30*time.Second, "every source to be archived", func() bool {
		time.Sleep(200 * time.Millisecond)
		before = 0
		for _, s := range env.Sources().Sources {
			if s.Items == 0 {
				return false
			}
			before += s.Items
		}
		return true
	})
	out := filepath.Join(t.TempDir(), "backup.db")
	r := env.Run(60*time.Second, "backup", out)
	if r.Code != 0 {
		t.Fatalf("backup under load failed\n%s", r)
	}
	if !strings.Contains(r.Stdout, "backup written to") {
		t.Errorf("backup says %q", r.Stdout)
	}
	if !p.Running() {
		t.Fatalf("the daemon died during the backup")
	}
	inBackup := checkDatabase(t, out)
	if inBackup < before {
		t.Fatalf("the backup holds %d items; %d were archived before it began", inBackup, before)
	}
	titles, pending := backupContents(t, out, "fish")
	t.Logf("%d items archived before the backup, %d in it, %d alerts pending in it", before, inBackup, len(pending))

	// Publish a round the backup cannot hold, whatever the timing of the
	// load's own rounds was: the restored copy must archive it.
	load.Stop()
	for i := range load.feeds {
		load.grow(i, 5)
	}
	p.Signal(syscall.SIGTERM)
	if code, _ := p.Wait(20 * time.Second); code != 0 {
		t.Errorf("daemon exit %d after SIGTERM", code)
	}

	// Restore: a new installation whose database is a copy of the backup,
	// posting to a Slack of its own.
	restored := newEnv(t)
	sl2 := slackfake.New(t)
	if err := os.MkdirAll(restored.DataDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored.DataDir(), "policywire.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.dataDir, cfg.slackURL = restored.DataDir(), sl2.URL()
	restored.WriteConfig(cfg.yaml())
	if r := restored.Run(120*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once on the restored copy failed\n%s", r)
	}
	after := checkDatabase(t, filepath.Join(restored.DataDir(), "policywire.db"))
	if after <= inBackup {
		t.Errorf("the restored installation archived nothing new: %d items, %d in the backup", after, inBackup)
	}
	for _, post := range sl2.Posts("C0FISH") {
		title := slackTitle(post)
		if titles[title] && !pending[title] {
			t.Errorf("the restored copy posted %q again: the backup had it delivered", title)
		}
	}
	if n := len(sl2.Posts("C0FISH")); n < len(pending) {
		t.Errorf("the restored copy posted %d alerts; the backup had %d pending", n, len(pending))
	}
}

// backupContents lists the titles archived in a database file and the
// titles of the alerts still waiting in a channel's outbox.
func backupContents(t *testing.T, path, channel string) (titles, pending map[string]bool) {
	t.Helper()
	st, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	titles, pending = map[string]bool{}, map[string]bool{}
	if err := st.ForEachItem(func(it policywire.Item) error {
		titles[it.Title] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.Outbox(channel, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		pending[r.Alert.Item.Title] = true
	}
	return titles, pending
}
