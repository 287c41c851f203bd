package store

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire"
)

// The kill test runs this test binary again as a child that ingests polls
// until it is killed with SIGKILL.
const (
	killChildEnv = "STORE_KILLTEST_CHILD"
	killDBEnv    = "STORE_KILLTEST_DB"
	killSource   = "council-press"
	killChannel  = "eu-desk"
	killPerBatch = 50
)

func TestMain(m *testing.M) {
	if os.Getenv(killChildEnv) == "1" {
		if err := killChild(os.Getenv(killDBEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func killBatch(n int, now time.Time) []policywire.Item {
	items := make([]policywire.Item, killPerBatch)
	for k := range items {
		it := policywire.Item{
			Source:    killSource,
			GUID:      fmt.Sprintf("b%06d-i%02d", n, k),
			URL:       fmt.Sprintf("https://www.consilium.europa.eu/en/press/press-releases/kill/b%06d/i%02d/", n, k),
			Title:     fmt.Sprintf("Poll %d, item %d: Council adopts conclusions on digital diplomacy file %d-%d", n, k, n, k),
			Summary:   "The Council adopted conclusions on the EU's digital diplomacy.",
			Published: now.Add(-time.Duration(k) * time.Minute),
		}
		it.CanonicalURL = it.URL
		it.ID = policywire.Identity(it)
		items[k] = it
	}
	return items
}

// killChild ingests polls numbered from the last one stored, and now and
// then delivers the oldest alerts, until it is killed.
func killChild(path string) error {
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	st, err := s.SourceState(killSource)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	route := routeAllTo(killChannel)
	for n := st.Polls + 1; ; n++ {
		st.Polls = n
		st.LastPoll = time.Now()
		if _, err := s.Ingest(Batch{Source: killSource, Items: killBatch(n, time.Now()), State: st}, route); err != nil {
			return err
		}
		fmt.Println("ingested", n)
		if st, err = s.SourceState(killSource); err != nil {
			return err
		}
		if n%3 == 0 {
			rows, err := s.Outbox(killChannel, false, 10)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if err := s.Delivered(killChannel, r.Key, "ts-"+r.Alert.ID[:8]); err != nil {
					return err
				}
			}
		}
	}
}

func TestKillDuringIngestLosesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policywire.db")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	lastPolls := 0
	for round := 1; round <= 20; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildEnv+"=1", killDBEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewReader(stdout)
		line, err := lines.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child did not start: %q %v; stderr: %s", round, line, err, stderr.String())
		}
		// Kill only once the child has committed at least one poll of its
		// own, however slow the machine, then at a random point of a later one.
		for range 1 + rng.IntN(3) {
			if _, err := lines.ReadString('\n'); err != nil {
				t.Fatalf("round %d: child stopped ingesting: %v; stderr: %s", round, err, stderr.String())
			}
		}
		time.Sleep(time.Duration(rng.IntN(5)) * time.Millisecond)
		go io.Copy(io.Discard, lines) // keep the child from blocking on a full pipe
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended by itself (%v); stderr: %s", round, err, stderr.String())
		}
		lastPolls = verifyAfterKill(t, path, round, lastPolls)
	}
	if lastPolls < 20 {
		t.Errorf("only %d polls were ingested across 20 kills; the test did not exercise much", lastPolls)
	}
	t.Logf("%d polls of %d items ingested across 20 kills", lastPolls, killPerBatch)
}

// verifyAfterKill opens the database the killed child left and checks that
// every poll is there whole or not at all.
func verifyAfterKill(t *testing.T, path string, round, lastPolls int) int {
	t.Helper()
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("round %d: %v", round, err)
	}
	st, err := s.SourceState(killSource)
	if err != nil {
		t.Fatal(err)
	}
	if st.Polls < lastPolls {
		t.Fatalf("round %d: source state went back from poll %d to %d", round, lastPolls, st.Polls)
	}
	perBatch := map[int]int{}
	err = s.ForEachItem(func(it policywire.Item) error {
		var n, k int
		if _, err := fmt.Sscanf(it.GUID, "b%06d-i%02d", &n, &k); err != nil {
			return fmt.Errorf("unexpected item %q", it.GUID)
		}
		perBatch[n]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	queued := map[string]bool{}
	rows, err := s.Outbox(killChannel, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		queued[r.Alert.ID] = true
	}
	for n := 1; n <= st.Polls; n++ {
		if perBatch[n] != killPerBatch {
			t.Fatalf("round %d: poll %d has %d of %d items (state says %d polls)", round, n, perBatch[n], killPerBatch, st.Polls)
		}
		for _, it := range killBatch(n, time.Now()) {
			id := alertID(it.ID, killChannel)
			if queued[id] {
				continue
			}
			if ok, err := s.IsDelivered(killChannel, id); err != nil || !ok {
				t.Fatalf("round %d: the alert of %q is neither queued nor delivered", round, it.GUID)
			}
		}
	}
	for n := range perBatch {
		if n > st.Polls {
			t.Fatalf("round %d: poll %d is stored but the source state, written in the same transaction, says %d", round, n, st.Polls)
		}
	}
	if c, _ := s.ItemCount(); c != st.Polls*killPerBatch {
		t.Fatalf("round %d: %d items for %d polls", round, c, st.Polls)
	}
	return st.Polls
}
