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

// archivedEnv is an installation whose database and index hold a few
// items, archived and delivered by one `run --once`.
func archivedEnv(t *testing.T) (*e2eharness.Env, []e2eharness.FeedItem) {
	t.Helper()
	sl := slackfake.New(t)
	fx, items := feedServer(t, "Cyber diplomacy dialogue", 40)
	env := newEnv(t)
	env.WriteConfig(setup{
		dataDir: env.DataDir(), slackURL: sl.URL(),
		sources:  []source{{id: "dialogue", url: fx.URL + "/feed.rss"}},
		channels: []channel{{id: "desk", slack: "C0DESK"}},
	}.yaml())
	if r := env.Run(60*time.Second, "run", "--once"); r.Code != 0 {
		t.Fatalf("run --once: %s", r)
	}
	return env, items
}

func flipAt(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] ^= 0xff
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		t.Fatal(err)
	}
}

// noPanic fails when a command's output shows a Go panic or fault.
func noPanic(t *testing.T, r e2eharness.Result) {
	t.Helper()
	for _, s := range []string{"panic:", "goroutine ", "fatal error:", "SIGSEGV", "SIGBUS"} {
		if strings.Contains(r.Stderr, s) {
			t.Fatalf("policywire crashed instead of reporting the damage (%q):\n%s", s, r)
		}
	}
}

// TestCheckDataGood: `check --data` on an installation in good order
// says so for the config, the database and the index, and exits 0.
func TestCheckDataGood(t *testing.T) {
	t.Parallel()
	env, _ := archivedEnv(t)
	r := env.Run(30*time.Second, "check", "--data")
	if r.Code != 0 {
		t.Fatalf("check --data of good data: %s", r)
	}
	db := filepath.Join(env.DataDir(), "policywire.db")
	for _, want := range []string{"config.yaml: ok", db + ": ok: 40 items", filepath.Join(env.DataDir(), "index") + ": ok: 40 items"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("check --data does not say %q:\n%s", want, r)
		}
	}
}

// TestSurvivalDamagedDatabase: a database file that was truncated or had
// bytes flipped makes `run` and `check --data` fail with a message naming
// the file and what to do, never a panic.
func TestSurvivalDamagedDatabase(t *testing.T) {
	t.Parallel()
	good, _ := archivedEnv(t)
	goodDB, err := os.ReadFile(filepath.Join(good.DataDir(), "policywire.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, db string)
	}{
		{"truncated", func(t *testing.T, db string) {
			if err := os.Truncate(db, int64(len(goodDB)/2)); err != nil {
				t.Fatal(err)
			}
		}},
		{"flipped bytes", func(t *testing.T, db string) {
			// The page headers of both meta pages and of every page
			// in between the first few: whatever bbolt reads first.
			for off := int64(0); off < int64(len(goodDB)); off += 4096 {
				flipAt(t, db, off, 16)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t)
			env.WriteConfig(strings.ReplaceAll(mustRead(t, good.ConfigPath()), good.DataDir(), env.DataDir()))
			db := filepath.Join(env.DataDir(), "policywire.db")
			if err := os.MkdirAll(env.DataDir(), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(db, goodDB, 0o600); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, db)

			for _, args := range [][]string{{"run"}, {"run", "--once"}, {"check", "--data"}} {
				r := env.Run(30*time.Second, args...)
				noPanic(t, r)
				if r.Code == 0 {
					t.Fatalf("a damaged database passed: %s", r)
				}
				for _, want := range []string{db, "is damaged", "backup"} {
					if !strings.Contains(r.Stderr, want) {
						t.Errorf("policywire %s does not say %q:\n%s", strings.Join(args, " "), want, r)
					}
				}
			}
		})
	}
}

// TestSurvivalDamagedIndex: a search index with flipped bytes in a
// segment is reported by `check --data` (exit 1, naming the segment), is
// rebuilt from the database when the daemon starts, and search works
// again; `check --data` then passes.
func TestSurvivalDamagedIndex(t *testing.T) {
	t.Parallel()
	env, items := archivedEnv(t)
	segments, err := filepath.Glob(filepath.Join(env.DataDir(), "index", "store", "*.zap"))
	if err != nil || len(segments) == 0 {
		t.Fatalf("no index segment in %s (%v)", env.DataDir(), err)
	}
	st, err := os.Stat(segments[0])
	if err != nil {
		t.Fatal(err)
	}
	flipAt(t, segments[0], st.Size()/2, 32)

	r := env.Run(30*time.Second, "check", "--data")
	noPanic(t, r)
	if r.Code != 1 || !strings.Contains(r.Stderr, segments[0]) || !strings.Contains(r.Stderr, "checksum") || !strings.Contains(r.Stderr, "reindex") {
		t.Fatalf("check --data of a damaged index: want exit 1 naming %s, its checksum and reindex:\n%s", segments[0], r)
	}

	p := env.Start("run")
	rebuilt := p.WaitLog(60*time.Second, "the index rebuilt", func(r e2eharness.LogRecord) bool { return r.Msg() == "search index rebuilt" })
	if rebuilt.Str("reason") != "broken" {
		t.Errorf("index rebuilt for reason %q, want broken", rebuilt.Str("reason"))
	}
	if r := searchThenStop(t, env, p, items[7].Title); r.Code != 0 {
		t.Errorf("check --data after the rebuild: %s", r)
	}
}

// searchThenStop searches the running daemon's archive for a title, which
// must be found, stops the daemon with SIGINT (exit 0) and returns what
// `check --data` says of the data it left.
func searchThenStop(t *testing.T, env *e2eharness.Env, p *e2eharness.Proc, title string) e2eharness.Result {
	t.Helper()
	search := env.Run(20*time.Second, "search", `"`+title+`"`)
	if search.Code != 0 || !strings.Contains(search.Stdout, title) {
		t.Errorf("search for %q:\n%s", title, search)
	}
	p.Signal(os.Interrupt)
	if code, _ := p.Wait(30 * time.Second); code != 0 {
		t.Fatalf("daemon exit %d after SIGINT", code)
	}
	return env.Run(30*time.Second, "check", "--data")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
