package bot_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	slacksender "github.com/policywire/policywire/bot/slack"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/store"
)

// editBench is a store with one story delivered to a Slack channel through
// the dispatcher, whose clock a test moves.
type editBench struct {
	st   *store.Store
	fake *slackfake.Fake
	d    *bot.Dispatcher
	ch   config.Channel
	mu   sync.Mutex
	now  time.Time
	ts   string
}

func (b *editBench) clock() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *editBench) advance(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(d)
}

func story(source, link string, pub time.Time) policywire.Item {
	it := policywire.Item{Source: source, URL: link, CanonicalURL: link, Title: "Digital diplomacy: Council approves conclusions on EU tech envoys", Published: pub}
	it.ID = policywire.Identity(it)
	return it
}

func newEditBench(t *testing.T) *editBench {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "policywire.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &editBench{st: st, fake: slackfake.New(t), now: time.Now(), ch: config.Channel{ID: "eu-desk", Slack: "C0EDIT", FollowUps: config.FollowUpThread}}
	b.d = &bot.Dispatcher{
		Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: b.clock,
		Senders: map[string]bot.Sender{"slack": slacksender.New(slacksender.Options{
			Token: "xoxb-test", APIURL: b.fake.URL(), PaceInterval: time.Millisecond, SettleDelay: time.Millisecond,
			HTTPClient: &http.Client{Timeout: 5 * time.Second},
		})},
	}
	b.ingest(t, "council-press", story("council-press", "https://consilium.example/envoys", b.now.Add(-time.Hour)))
	b.step(t)
	posts := b.fake.Posts("C0EDIT")
	if len(posts) != 1 {
		t.Fatalf("%d posts of the story, want 1", len(posts))
	}
	b.ts = posts[0].TS
	return b
}

func (b *editBench) ingest(t *testing.T, source string, items ...policywire.Item) {
	t.Helper()
	route := func(policywire.Item) []store.Route { return []store.Route{{Channel: "eu-desk"}} }
	if _, err := b.st.Ingest(store.Batch{Source: source, SourceName: source, Items: items}, route); err != nil {
		t.Fatal(err)
	}
}

func (b *editBench) step(t *testing.T) time.Time {
	t.Helper()
	next, err := b.d.Step(context.Background(), b.ch)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func (b *editBench) rows(t *testing.T) []store.OutboxRow {
	t.Helper()
	rows, err := b.st.Outbox("eu-desk", true, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestEditIsRetriedAfterAFailureLikeAnAlert(t *testing.T) {
	b := newEditBench(t)
	b.ingest(t, "eeas-press", story("eeas-press", "https://eeas.example/envoys", b.clock()))
	b.fake.Script("chat.update", slackfake.Fault{Status: http.StatusBadGateway})
	next := b.step(t)
	rows := b.rows(t)
	if next.IsZero() || len(rows) != 1 || rows[0].Edit == nil || rows[0].Attempts != 1 {
		t.Fatalf("after a failed edit: next %v, rows %+v; want the edit row waiting with 1 attempt", next, rows)
	}
	b.advance(next.Sub(b.clock()) + time.Second)
	if next := b.step(t); !next.IsZero() {
		t.Fatalf("the retried edit waits until %v", next)
	}
	if rows := b.rows(t); len(rows) != 0 {
		t.Fatalf("%d rows after the retried edit, want none", len(rows))
	}
	if msg, _ := b.fake.Message("C0EDIT", b.ts); msg.Edits != 1 {
		t.Errorf("message edited %d times, want 1", msg.Edits)
	}
	if n := len(b.fake.Posts("C0EDIT")); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

func TestRefusedEditIsParkedAndUnparked(t *testing.T) {
	b := newEditBench(t)
	b.fake.ChannelError("C0EDIT", "not_in_channel")
	b.ingest(t, "eeas-press", story("eeas-press", "https://eeas.example/envoys", b.clock()))
	b.step(t)
	rows := b.rows(t)
	if len(rows) != 1 || !rows[0].Parked || rows[0].ParkReason != "not_in_channel" {
		t.Fatalf("rows %+v, want the edit parked for not_in_channel", rows)
	}
	b.fake.ChannelError("C0EDIT", "")
	if n, err := b.st.Unpark("eu-desk"); err != nil || n != 1 {
		t.Fatalf("unpark: %d, %v", n, err)
	}
	b.step(t)
	if msg, _ := b.fake.Message("C0EDIT", b.ts); msg.Edits != 1 || len(b.rows(t)) != 0 {
		t.Fatalf("after unparking: %d edits, %d rows; want 1 and none", msg.Edits, len(b.rows(t)))
	}
}
