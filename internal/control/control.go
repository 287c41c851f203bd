// Package control is the daemon's local door: an HTTP server on a unix
// socket in data_dir, through which `search`, `sources`, `backup` and `try`
// reach a running daemon that holds the database. It needs no open port and
// only the file permissions of data_dir guard it. It knows nothing of what
// the handlers do.
package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// SocketName is the socket's file name inside data_dir.
const SocketName = "policywire.sock"

// SocketPath is where the daemon of a data_dir listens.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, SocketName) }

// Server serves h on the socket until Close.
type Server struct {
	srv  *http.Server
	path string
	done chan struct{}
}

// Listen creates the socket (replacing a stale one left by a killed
// process) and serves h on it.
func Listen(path string, h http.Handler) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: another daemon already listens on %s", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control: listen %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control: %w", err)
	}
	s := &Server{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, path: path, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and removes the socket.
func (s *Server) Close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	_ = os.Remove(s.path)
	return err
}

// ErrNoDaemon means no daemon answers on the socket.
var ErrNoDaemon = errors.New("control: no running daemon")

// Get asks the daemon for urlPath and copies the answer to w. A non-200
// answer becomes an error carrying the daemon's message.
func Get(ctx context.Context, socket, urlPath string, w io.Writer) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://policywire"+urlPath, nil)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w (%s): %v", ErrNoDaemon, socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("control: daemon answered %d: %s", resp.StatusCode, msg)
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}
