package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
)

// addrLog keeps the addresses the listeners log.
type addrLog struct {
	mu    sync.Mutex
	addrs map[string]string // message → addr
}

func (l *addrLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *addrLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			l.addrs[r.Message] = a.Value.String()
		}
		return true
	})
	return nil
}
func (l *addrLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *addrLog) WithGroup(string) slog.Handler      { return l }

// startHTTP starts the bot's listeners on loopback with a Slack endpoint
// that reads its body, and returns the addresses they logged.
func startHTTP(t *testing.T, hc config.HTTP) map[string]string {
	t.Helper()
	logs := &addrLog{addrs: map[string]string{}}
	cfg := &config.Config{Slack: &config.Slack{SigningSecret: config.Secret("s3cret")}}
	slackCommands := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	a := &app{stdout: io.Discard, stderr: os.Stderr}
	stop, _, err := listenHTTP(hc, a.httpHandler(&bot.Daemon{}, slackCommands, cfg), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("policywire_archive_items 0\n"))
	}), slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return logs.addrs
}

func TestSlowBodyOnSlackCommandsIsCutOff(t *testing.T) {
	addr := startHTTP(t, config.HTTP{Listen: "127.0.0.1:0"})["http listening"]
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers promise a body; a few bytes come, then nothing more.
	_, err = io.WriteString(conn, "POST /slack/commands HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4000\r\n\r\ncommand=%2Fpolicywire")
	if err != nil {
		t.Fatal(err)
	}
	// Far longer than the server's read limit: an open connection then
	// means the server holds it for as long as the client likes.
	guard := 3 * httpReadTimeout
	_ = conn.SetReadDeadline(time.Now().Add(guard))
	_, err = io.Copy(io.Discard, bufio.NewReader(conn))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the server still held a half-sent request after %s", guard)
	}
}

func TestMetricsListenServesMetricsOnItsOwnAddressOnly(t *testing.T) {
	addrs := startHTTP(t, config.HTTP{Listen: "127.0.0.1:0", MetricsListen: "127.0.0.1:0"})
	get := func(addr, path string) int {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && path == "/metrics" && !strings.Contains(string(body), "policywire_archive_items") {
			t.Fatalf("%s%s answered %q", addr, path, body)
		}
		return resp.StatusCode
	}
	if got := get(addrs["metrics listening"], "/metrics"); got != http.StatusOK {
		t.Errorf("metrics address: /metrics answered %d, want 200", got)
	}
	if got := get(addrs["http listening"], "/metrics"); got != http.StatusNotFound {
		t.Errorf("main address: /metrics answered %d, want 404 when metrics_listen is set", got)
	}
	if got := get(addrs["http listening"], "/healthz"); got != http.StatusOK {
		t.Errorf("main address: /healthz answered %d, want 200", got)
	}
	// Without metrics_listen, /metrics stays on the main address.
	one := startHTTP(t, config.HTTP{Listen: "127.0.0.1:0"})
	if got := get(one["http listening"], "/metrics"); got != http.StatusOK {
		t.Errorf("single address: /metrics answered %d, want 200", got)
	}
}
