package e2eharness

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProxyFault is what a ChaosProxy does to one request instead of passing
// it through untouched.
type ProxyFault struct {
	// Status, when set, answers the request without forwarding it.
	Status int
	// Header and Body go with Status.
	Header http.Header
	Body   string
	// RetryAfter is the wait the answer asks for (Retry-After or
	// retry_after_ms), recorded so a test can check it was obeyed.
	RetryAfter time.Duration
	// ForwardThenDrop forwards the request, lets the server do its work,
	// then closes the connection without an answer: the client cannot
	// know whether it succeeded.
	ForwardThenDrop bool
	// ForwardThenHang forwards the request, then withholds the answer
	// until the client gives up or the proxy closes: a kill of the client
	// lands while the request is in flight.
	ForwardThenHang bool
}

// ProxyRule decides the fate of a request; nil lets it through.
type ProxyRule func(r *http.Request, body []byte) *ProxyFault

// ProxiedRequest is one request a ChaosProxy received.
type ProxiedRequest struct {
	At     time.Time
	Method string
	Path   string
	// Form is the parsed form body (Slack's Web API), nil otherwise.
	Form url.Values
	// Status is what the client got: the upstream's status, the fault's,
	// or 0 when the connection was dropped.
	Status     int
	RetryAfter time.Duration
	Forwarded  bool
}

// ChaosProxy is a reverse proxy on loopback in front of a chat server (the
// fake Slack, dendrite) that can fail chosen requests the way an overloaded
// or flaky server does, and records every request with its arrival time.
type ChaosProxy struct {
	*httptest.Server
	target *url.URL
	proxy  *httputil.ReverseProxy

	closed chan struct{}

	mu   sync.Mutex
	rule ProxyRule
	log  []ProxiedRequest
}

// NewChaosProxy starts a proxy to target (scheme://host[:port]), closed when
// the test ends.
func NewChaosProxy(t testing.TB, target string) *ChaosProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		t.Fatalf("e2eharness: proxy target %q: %v", target, err)
	}
	p := &ChaosProxy{target: &url.URL{Scheme: u.Scheme, Host: u.Host}, closed: make(chan struct{})}
	p.proxy = httputil.NewSingleHostReverseProxy(p.target)
	p.proxy.ErrorLog = nil
	p.proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
	}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		close(p.closed)
		p.Close()
	})
	return p
}

// SetRule replaces the rule; nil passes everything.
func (p *ChaosProxy) SetRule(rule ProxyRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// Requests returns the requests received so far, in arrival order.
func (p *ChaosProxy) Requests() []ProxiedRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProxiedRequest(nil), p.log...)
}

func (p *ChaosProxy) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, "proxy: read body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := ProxiedRequest{At: at, Method: r.Method, Path: r.URL.Path}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		rec.Form, _ = url.ParseQuery(string(body))
	}
	p.mu.Lock()
	rule := p.rule
	p.mu.Unlock()
	var fault *ProxyFault
	if rule != nil {
		fault = rule(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	switch {
	case fault == nil:
		sw := &statusWriter{ResponseWriter: w}
		p.proxy.ServeHTTP(sw, r)
		rec.Status, rec.Forwarded = sw.status, true
	case fault.ForwardThenHang:
		p.proxy.ServeHTTP(httptest.NewRecorder(), r)
		rec.Forwarded = true
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
	case fault.ForwardThenDrop:
		p.proxy.ServeHTTP(httptest.NewRecorder(), r)
		rec.Forwarded = true
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	default:
		for k, vs := range fault.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(fault.Status)
		_, _ = io.WriteString(w, fault.Body)
		rec.Status, rec.RetryAfter = fault.Status, fault.RetryAfter
	}
	p.mu.Lock()
	p.log = append(p.log, rec)
	p.mu.Unlock()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// SlackRateLimited is Slack's answer to too many requests.
func SlackRateLimited(after time.Duration) *ProxyFault {
	secs := int((after + time.Second - 1) / time.Second)
	return &ProxyFault{
		Status:     http.StatusTooManyRequests,
		Header:     http.Header{"Retry-After": {strconv.Itoa(secs)}, "Content-Type": {"application/json"}},
		Body:       `{"ok":false,"error":"ratelimited"}`,
		RetryAfter: time.Duration(secs) * time.Second,
	}
}

// ServerError is an HTML error page with status (a 5xx from a load
// balancer).
func ServerError(status int) *ProxyFault {
	return &ProxyFault{
		Status: status,
		Header: http.Header{"Content-Type": {"text/html"}},
		Body:   fmt.Sprintf("<html><body><h1>%d %s</h1></body></html>", status, http.StatusText(status)),
	}
}

// MatrixLimitExceeded is a homeserver's rate-limit answer.
func MatrixLimitExceeded(after time.Duration) *ProxyFault {
	return &ProxyFault{
		Status:     http.StatusTooManyRequests,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       fmt.Sprintf(`{"errcode":"M_LIMIT_EXCEEDED","error":"Too Many Requests","retry_after_ms":%d}`, after.Milliseconds()),
		RetryAfter: after,
	}
}

// MatrixRoomOf returns the room of a client-server API path about one
// room (/_matrix/client/v3/rooms/{room}/...), or "".
func MatrixRoomOf(path string) string {
	_, rest, ok := strings.Cut(path, "/rooms/")
	if !ok {
		return ""
	}
	room, _, _ := strings.Cut(rest, "/")
	if r, err := url.PathUnescape(room); err == nil {
		return r
	}
	return room
}

// IsMatrixSend reports whether a request sends a message event.
func IsMatrixSend(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/")
}

// GUIDItem is a feed item whose GUID is not its link.
type GUIDItem struct {
	FeedItem
	GUID string
}

// RSSWithGUIDs writes an RSS 2.0 feed whose items carry opaque GUIDs
// (isPermaLink="false"), as the Council's feed does.
func RSSWithGUIDs(title, link string, items []GUIDItem) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<rss version="2.0"><channel>`)
	fmt.Fprintf(&b, "<title>%s</title><link>%s</link><description>%s</description>", esc(title), esc(link), esc(title))
	for _, it := range items {
		fmt.Fprintf(&b, "\n<item><title>%s</title><link>%s</link><guid isPermaLink=\"false\">%s</guid><description>%s</description><pubDate>%s</pubDate></item>",
			esc(it.Title), esc(it.Link), esc(it.GUID), esc(it.Description), it.Published.UTC().Format(time.RFC1123Z))
	}
	b.WriteString("\n</channel></rss>\n")
	return b.Bytes()
}

// ResidentBytes is the resident memory (VmRSS) of a process, from
// /proc/PID/status.
func ResidentBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("e2eharness: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("e2eharness: unexpected VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("e2eharness: VmRSS %q: %w", fields[0], err)
		}
		return kb * 1024, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("e2eharness: %w", err)
	}
	return 0, fmt.Errorf("e2eharness: no VmRSS in /proc/%d/status", pid)
}

// Metric reads one unlabelled sample (go_goroutines, say) from the
// Prometheus text at base+"/metrics".
func Metric(base, name string) (float64, error) {
	code, body := Get(base + "/metrics")
	if code != http.StatusOK {
		return 0, fmt.Errorf("e2eharness: GET /metrics: status %d: %.200s", code, body)
	}
	for line := range strings.SplitSeq(body, "\n") {
		rest, ok := strings.CutPrefix(line, name+" ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("e2eharness: metric %s: %w", name, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("e2eharness: no metric %s at %s/metrics", name, base)
}
