package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// servedFile is one body the sample server answers with.
type servedFile struct {
	body        []byte
	contentType string
}

// sampleServer serves the rendered samples on a free loopback port, so the
// demo exercises the real fetcher and parsers without any network.
type sampleServer struct {
	srv  *http.Server
	ln   net.Listener
	done chan error
}

func startSampleServer(files map[string]servedFile) (*sampleServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: listen on loopback: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", f.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(f.body)
		}
	})
	s := &sampleServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second},
		ln:   ln,
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is the server's base URL, without a trailing slash.
func (s *sampleServer) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server and waits for it.
func (s *sampleServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("demo: stop sample server: %w", err)
	}
	return nil
}
