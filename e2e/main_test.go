// Package e2e holds process-level tests of the real policywire binary:
// delivery to a real dendrite and to a fake Slack with `run --once`, crash
// and restart, digests, dry runs, and the daemon's schedule, hot reload,
// signals, HTTP endpoints, source health and local control socket. The
// binary under test is built without -race; these tests run with it.
package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/testenv"
)

var (
	binary     e2eharness.Binary
	homeserver testenv.SharedDendrite
)

func TestMain(m *testing.M) {
	code := homeserver.Run(m)
	binary.Remove()
	os.Exit(code)
}

// source is one source of a test config.
type source struct {
	id, url, schedule string
}

// channel is one channel of a test config.
type channel struct {
	id, slack, matrix, digest string
	topics, sources           []string
	// followUps is the channel's follow_ups ("" leaves the default).
	followUps string
}

// setup is what a test config is made of.
type setup struct {
	dataDir string
	listen  bool
	// listenAddr, when set, is the address instead of a port the system picks.
	listenAddr string
	slackURL   string
	// matrix: homeserver URL and bot user id; the token comes from
	// $MATRIX_TOKEN.
	matrixURL, matrixUser string
	topics                map[string]string
	sources               []source
	channels              []channel
	admin                 string
}

// yaml renders the config. Article pages are never fetched (their links
// point to the real sites), loopback sources are allowed, and one host
// may be asked as often as the schedules say.
func (s setup) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir: %s\ntimezone: Europe/Brussels\nlog:\n  level: info\n  format: json\n", s.dataDir)
	if s.listenAddr != "" {
		fmt.Fprintf(&b, "http:\n  listen: %s\n", s.listenAddr)
	} else if s.listen {
		b.WriteString("http:\n  listen: 127.0.0.1:0\n")
	} else {
		b.WriteString("http:\n  listen: \"\"\n")
	}
	b.WriteString("fetch:\n  allow_private: true\n  host_delay: 0s\n  timeout: 5s\n")
	b.WriteString("defaults:\n  backfill: 0s\n  schedule: \"@every 1h\"\n")
	b.WriteString("summary:\n  fetch_article: never\n")
	if len(s.topics) > 0 {
		b.WriteString("topics:\n")
		for id, q := range s.topics {
			fmt.Fprintf(&b, "  %s:\n    query: %q\n", id, q)
		}
	}
	b.WriteString("sources:\n")
	for _, src := range s.sources {
		fmt.Fprintf(&b, "  - id: %s\n    url: %s\n", src.id, src.url)
		if src.schedule != "" {
			fmt.Fprintf(&b, "    schedule: %q\n", src.schedule)
		}
	}
	if s.slackURL != "" {
		fmt.Fprintf(&b, "slack:\n  bot_token: xoxb-e2e-token\n  api_url: %s\n", s.slackURL)
	}
	if s.matrixURL != "" {
		fmt.Fprintf(&b, "matrix:\n  homeserver: %s\n  user_id: %q\n  access_token: ${MATRIX_TOKEN}\n", s.matrixURL, s.matrixUser)
	}
	b.WriteString("channels:\n")
	for _, ch := range s.channels {
		fmt.Fprintf(&b, "  - id: %s\n", ch.id)
		if ch.slack != "" {
			fmt.Fprintf(&b, "    slack: %s\n", ch.slack)
		}
		if ch.matrix != "" {
			fmt.Fprintf(&b, "    matrix: %q\n", ch.matrix)
		}
		if len(ch.topics) > 0 {
			fmt.Fprintf(&b, "    topics: [%s]\n", strings.Join(ch.topics, ", "))
		}
		if len(ch.sources) > 0 {
			fmt.Fprintf(&b, "    sources: [%s]\n", strings.Join(ch.sources, ", "))
		}
		if ch.digest != "" {
			fmt.Fprintf(&b, "    digest: %q\n", ch.digest)
		}
		if ch.followUps != "" {
			fmt.Fprintf(&b, "    follow_ups: %s\n", ch.followUps)
		}
	}
	if s.admin != "" {
		fmt.Fprintf(&b, "admin: %s\n", s.admin)
	}
	return b.String()
}

// newEnv makes an installation whose data directory is inside it.
func newEnv(t *testing.T) *e2eharness.Env {
	t.Helper()
	return e2eharness.NewEnv(t, binary.Path(t))
}

// recent is a publication time inside any backfill window.
func recent() time.Time { return time.Now().Add(-time.Hour).Truncate(time.Second) }
