package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
)

// TestRunOnceOpensTheIndexOnlyForNewItems: a cron run with nothing new
// leaves the search index alone (it neither opens nor checks it, so its
// cost does not grow with the archive), and the next run that archives
// something brings the index up to date with the whole archive, so search
// finds the old items and the new one.
func TestRunOnceOpensTheIndexOnlyForNewItems(t *testing.T) {
	t.Parallel()
	slack := slackfake.New(t)
	fx, items := feedServer(t, "Undersea cable resilience", 3)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: slack.URL(),
		sources:  []source{{id: "cables", url: fx.URL + "/feed.rss"}},
		channels: []channel{{id: "eu-desk", slack: "C0DESK"}},
	}.yaml())
	indexDir := filepath.Join(env.DataDir(), "index")

	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("first run failed\n%s", r)
	}
	if _, err := os.Stat(indexDir); err != nil {
		t.Fatalf("the first run, which archived %d items, made no search index: %v", len(items), err)
	}

	// The index goes missing; a run with nothing new must not rebuild it.
	if err := os.RemoveAll(indexDir); err != nil {
		t.Fatal(err)
	}
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run with nothing new failed\n%s", r)
	}
	if _, err := os.Stat(indexDir); !os.IsNotExist(err) {
		t.Errorf("a run with nothing new opened the search index (stat: %v)", err)
	}

	// A new item: the index is opened, found missing, and rebuilt from the
	// archive, which by then holds the new item too.
	more := e2eharness.NumberedItems("Undersea cable resilience", "https://news.example.org/undersea-cable-resilience", 4, time.Now().UTC())
	fx.Set("/feed.rss", e2eharness.RSS("Undersea cable resilience", fx.URL, more), e2eharness.RSSContentType)
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run with a new item failed\n%s", r)
	}
	for _, title := range []string{items[0].Title, more[3].Title} {
		search := env.Run(20*time.Second, "search", `"`+title+`"`)
		if search.Code != 0 || !strings.Contains(search.Stdout, title) {
			t.Errorf("search for %q after the runs:\n%s", title, search)
		}
	}
}
