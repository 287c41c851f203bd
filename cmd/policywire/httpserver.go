package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/policywire/policywire/config"
)

// Limits of the bot's HTTP listeners, which may face the internet
// (/slack/commands). A slash command is a form of a few kilobytes that
// Slack sends at once and waits 3 s for, so a client still sending its
// request after httpReadTimeout is cut off rather than holding a
// connection; an answer (a search, a metrics scrape) gets httpWriteTimeout.
const (
	httpReadHeaderTimeout = 5 * time.Second
	httpReadTimeout       = 10 * time.Second
	httpWriteTimeout      = 30 * time.Second
	httpIdleTimeout       = 2 * time.Minute
	httpMaxHeaderBytes    = 64 << 10
)

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
	}
}

// listenHTTP starts the listeners hc asks for: mux on http.listen, with
// /metrics added there unless http.metrics_listen gives it an address of
// its own. stop closes them all at once, shutdown lets the requests under
// way finish first.
func listenHTTP(hc config.HTTP, mux *http.ServeMux, metrics http.Handler, logger *slog.Logger) (stop func(), shutdown func(context.Context), err error) {
	var servers []*http.Server
	stop = func() {
		for _, s := range servers {
			s.Close()
		}
	}
	shutdown = func(ctx context.Context) {
		for _, s := range servers {
			_ = s.Shutdown(ctx)
		}
	}
	serve := func(key, addr, what string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s %s: %w", key, addr, err)
		}
		srv := newHTTPServer(h)
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		logger.Info(what, "addr", ln.Addr().String())
		return nil
	}
	if hc.MetricsListen != "" {
		only := http.NewServeMux()
		only.Handle("GET /metrics", metrics)
		if err := serve("http.metrics_listen", hc.MetricsListen, "metrics listening", only); err != nil {
			return stop, shutdown, err
		}
	} else {
		mux.Handle("GET /metrics", metrics)
	}
	if hc.Listen != "" {
		if err := serve("http.listen", hc.Listen, "http listening", mux); err != nil {
			stop()
			return stop, shutdown, err
		}
	}
	return stop, shutdown, nil
}
