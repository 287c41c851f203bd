package control

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGetReachesTheDaemonOverItsSocket(t *testing.T) {
	dir := t.TempDir()
	path := SocketPath(dir)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sources", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) })
	mux.HandleFunc("GET /v1/fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "index broken", http.StatusInternalServerError)
	})
	s, err := Listen(path, mux)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket must be private to its owner: %v %v", fi.Mode(), err)
	}
	var buf bytes.Buffer
	if err := Get(context.Background(), path, "/v1/sources", &buf); err != nil || buf.String() != `{"ok":true}` {
		t.Fatalf("Get: %q %v", buf.String(), err)
	}
	err = Get(context.Background(), path, "/v1/fail", &buf)
	if err == nil || !strings.Contains(err.Error(), "500") || !strings.Contains(err.Error(), "index broken") {
		t.Fatalf("a failing answer must carry the daemon's message: %v", err)
	}
	if _, err := Listen(path, mux); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("a second daemon on the same data_dir must be refused: %v", err)
	}
}

func TestStaleSocketIsReplacedAndNoDaemonIsReported(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SocketName)
	// A socket file left by a killed process: it exists, nobody listens.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := Get(context.Background(), path, "/v1/sources", &bytes.Buffer{}); !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("want ErrNoDaemon, got %v", err)
	}
	s, err := Listen(path, http.NewServeMux())
	if err != nil {
		t.Fatalf("a stale socket must not stop a new daemon: %v", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Close must remove the socket: %v", err)
	}
}
