package sources

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const fetchTestFeed = `<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Press releases</title>
<item><title>Council approves conclusions on EU digital diplomacy</title><link>https://www.consilium.europa.eu/en/press/press-releases/2022/07/18/digital-diplomacy/</link></item>
</channel></rss>`

// fetchNew builds a Fetcher that may reach the loopback test servers.
func fetchNew(t *testing.T, o FetcherOptions) *Fetcher {
	t.Helper()
	o.AllowPrivate = true
	f := NewFetcher(o)
	t.Cleanup(f.Close)
	return f
}

// fetchWantKind asserts that err is a *Error of that kind and returns it.
func fetchWantKind(t *testing.T, err error, kind ErrorKind) *Error {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want a *sources.Error of kind %s", err, err, kind)
	}
	if se.Kind != kind {
		t.Fatalf("error kind = %s (%v), want %s", se.Kind, err, kind)
	}
	return se
}

func fetchGzip(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fetchRawServer answers every request with the raw bytes of raw and then
// closes the connection, for answers net/http would not write.
func fetchRawServer(t *testing.T, raw []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_, _ = conn.Write(raw)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestFetchConditionalGet(t *testing.T) {
	var mu sync.Mutex
	etag, lastMod, body := `"v1"`, "Mon, 18 Jul 2022 10:00:00 GMT", fetchTestFeed
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		inm, ims := r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		seen = append(seen, inm+"|"+ims)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		w.Header().Set("Cache-Control", "public, max-age=300")
		if inm == etag || inm == "" && ims == lastMod {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	ctx := context.Background()

	first, err := f.Fetch(ctx, srv.URL+"/rss", Validators{}, "application/rss+xml")
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != 200 || first.NotModified || string(first.Body) != fetchTestFeed || first.Size != int64(len(fetchTestFeed)) {
		t.Fatalf("first fetch = status %d notModified %v size %d body %q", first.Status, first.NotModified, first.Size, first.Body)
	}
	if first.Validators != (Validators{ETag: `"v1"`, LastModified: lastMod}) {
		t.Fatalf("validators = %+v", first.Validators)
	}
	if first.MaxAge != 5*time.Minute || first.ContentType != "application/rss+xml; charset=utf-8" || first.URL != srv.URL+"/rss" {
		t.Fatalf("max-age %v, content type %q, URL %q", first.MaxAge, first.ContentType, first.URL)
	}

	second, err := f.Fetch(ctx, srv.URL+"/rss", first.Validators, "")
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != 304 || !second.NotModified || second.Body != nil || second.Size != 0 || second.Validators != first.Validators {
		t.Fatalf("second fetch = %+v, want 304 with no body and the same validators", second)
	}

	// Only Last-Modified known: If-Modified-Since alone gives a 304.
	third, err := f.Fetch(ctx, srv.URL+"/rss", Validators{LastModified: lastMod}, "")
	if err != nil || !third.NotModified {
		t.Fatalf("fetch with Last-Modified only = %+v, %v; want 304", third, err)
	}

	mu.Lock()
	etag, lastMod, body = `"v2"`, "Tue, 19 Jul 2022 08:00:00 GMT", fetchTestFeed+"\n<!-- v2 -->"
	mu.Unlock()
	fourth, err := f.Fetch(ctx, srv.URL+"/rss", first.Validators, "")
	if err != nil {
		t.Fatal(err)
	}
	if fourth.Status != 200 || fourth.NotModified || !strings.HasSuffix(string(fourth.Body), "<!-- v2 -->") ||
		fourth.Validators != (Validators{ETag: `"v2"`, LastModified: "Tue, 19 Jul 2022 08:00:00 GMT"}) {
		t.Fatalf("changed feed = status %d validators %+v", fourth.Status, fourth.Validators)
	}

	mu.Lock()
	defer mu.Unlock()
	want := []string{"|", `"v1"|Mon, 18 Jul 2022 10:00:00 GMT`, "|Mon, 18 Jul 2022 10:00:00 GMT", `"v1"|Mon, 18 Jul 2022 10:00:00 GMT`}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("conditional headers sent = %q, want %q", seen, want)
	}
}

func TestFetch304KeepsSentValidatorsUnlessRefreshed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fresh" {
			w.Header().Set("ETag", `"v9"`)
		}
		w.WriteHeader(http.StatusNotModified)
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	sent := Validators{ETag: `"v1"`, LastModified: "Mon, 18 Jul 2022 10:00:00 GMT"}
	r, err := f.Fetch(context.Background(), srv.URL+"/same", sent, "")
	if err != nil || r.Validators != sent {
		t.Fatalf("304 without validators = %+v, %v; want the sent validators", r, err)
	}
	r, err = f.Fetch(context.Background(), srv.URL+"/fresh", sent, "")
	if err != nil || r.Validators != (Validators{ETag: `"v9"`, LastModified: sent.LastModified}) {
		t.Fatalf("304 with a new ETag = %+v, %v", r, err)
	}
}

func TestFetchDecodesCompressedBodies(t *testing.T) {
	payload := []byte(strings.Repeat(fetchTestFeed, 20))
	var zlibBuf, rawBuf bytes.Buffer
	zw := zlib.NewWriter(&zlibBuf)
	zw.Write(payload)
	zw.Close()
	fw, _ := flate.NewWriter(&rawBuf, flate.DefaultCompression)
	fw.Write(payload)
	fw.Close()
	twoMembers := append(fetchGzip(t, payload[:100]), fetchGzip(t, payload[100:])...)

	cases := []struct {
		name, encoding string
		body           []byte
	}{
		{"gzip", "gzip", fetchGzip(t, payload)},
		{"x-gzip", "x-gzip", fetchGzip(t, payload)},
		{"gzip in two members", "gzip", twoMembers},
		{"deflate as zlib", "deflate", zlibBuf.Bytes()},
		{"deflate raw", "deflate", rawBuf.Bytes()},
		{"identity", "", payload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var acceptEncoding string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				acceptEncoding = r.Header.Get("Accept-Encoding")
				if c.encoding != "" {
					w.Header().Set("Content-Encoding", c.encoding)
				}
				w.Write(c.body)
			}))
			defer srv.Close()
			f := fetchNew(t, FetcherOptions{})
			r, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Body, payload) || r.Size != int64(len(payload)) {
				t.Fatalf("body of %d bytes (size %d), want the %d bytes sent", len(r.Body), r.Size, len(payload))
			}
			if acceptEncoding != "gzip, deflate" {
				t.Fatalf("Accept-Encoding = %q", acceptEncoding)
			}
		})
	}
}

// The Commission's press corner may answer a gzip request with no length
// and a dropped connection.
func TestFetchGzipWithoutLengthAndClosedConnection(t *testing.T) {
	gz := fetchGzip(t, []byte(fetchTestFeed))
	head := "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Encoding: gzip\r\n"

	cases := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"no length, closed", head + "Connection: close\r\n\r\n" + string(gz), true},
		{"chunked, closed before the last chunk", head + "Transfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(gz)), 16) + "\r\n" + string(gz) + "\r\n", true},
		{"length longer than the data sent", head + "Content-Length: " + strconv.Itoa(len(gz)+500) + "\r\n\r\n" + string(gz), true},
		{"truncated gzip, no length", head + "Connection: close\r\n\r\n" + string(gz[:len(gz)/2]), false},
		{"truncated gzip, chunked", head + "Transfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(gz)/2), 16) + "\r\n" + string(gz[:len(gz)/2]) + "\r\n", false},
		{"gzip without its trailer", head + "Connection: close\r\n\r\n" + string(gz[:len(gz)-8]), false},
		{"plain body shorter than its length", "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + fetchTestFeed, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := fetchRawServer(t, []byte(c.raw))
			f := fetchNew(t, FetcherOptions{})
			r, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				if string(r.Body) != fetchTestFeed {
					t.Fatalf("body = %q", r.Body)
				}
				return
			}
			se := fetchWantKind(t, err, KindNetwork)
			if !strings.Contains(se.Error(), "unexpected EOF") {
				t.Fatalf("error = %v, want it to say the body was cut", se)
			}
		})
	}
}

func TestFetchBodyOverMaxBytes(t *testing.T) {
	const limit = 1000
	exact := bytes.Repeat([]byte("a"), limit)
	over := bytes.Repeat([]byte("a"), limit+1)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		ok      bool
	}{
		{"exactly max_bytes", func(w http.ResponseWriter, r *http.Request) { w.Write(exact) }, true},
		{"exactly max_bytes gzipped", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(fetchGzip(t, exact))
		}, true},
		{"Content-Length over", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "5000")
			w.Write(bytes.Repeat([]byte("a"), 5000))
		}, false},
		{"chunked over", func(w http.ResponseWriter, r *http.Request) {
			w.Write(over[:500])
			w.(http.Flusher).Flush()
			w.Write(over[500:])
		}, false},
		{"small gzip, large after decompression", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(fetchGzip(t, over))
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			f := fetchNew(t, FetcherOptions{MaxBytes: limit})
			r, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
			if c.ok {
				if err != nil || len(r.Body) != limit {
					t.Fatalf("fetch = %v bytes, %v; want %d bytes", len(r.Body), err, limit)
				}
				return
			}
			se := fetchWantKind(t, err, KindTooLarge)
			if !strings.Contains(se.Error(), "max_bytes") {
				t.Fatalf("error = %v", se)
			}
		})
	}
}

func TestFetchSendsUserAgentOnEveryHop(t *testing.T) {
	var mu sync.Mutex
	var agents, accepts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.Header.Get("User-Agent"))
		accepts = append(accepts, r.Header.Get("Accept"))
		mu.Unlock()
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusMovedPermanently)
			return
		}
		fmt.Fprint(w, fetchTestFeed)
	}))
	defer srv.Close()

	f := fetchNew(t, FetcherOptions{UserAgent: "policywire-test/2.0 (+https://example.org/bot)"})
	r, err := f.Fetch(context.Background(), srv.URL+"/old", Validators{}, "application/rss+xml, application/atom+xml")
	if err != nil {
		t.Fatal(err)
	}
	if r.URL != srv.URL+"/new" {
		t.Fatalf("final URL = %q, want %q", r.URL, srv.URL+"/new")
	}
	d := fetchNew(t, FetcherOptions{})
	if _, err := d.Fetch(context.Background(), srv.URL+"/new", Validators{}, ""); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	wantAgents := []string{"policywire-test/2.0 (+https://example.org/bot)", "policywire-test/2.0 (+https://example.org/bot)", DefaultUserAgent}
	wantAccepts := []string{"application/rss+xml, application/atom+xml", "application/rss+xml, application/atom+xml", "*/*"}
	if fmt.Sprint(agents) != fmt.Sprint(wantAgents) || fmt.Sprint(accepts) != fmt.Sprint(wantAccepts) {
		t.Fatalf("User-Agents %q, Accepts %q; want %q, %q", agents, accepts, wantAgents, wantAccepts)
	}
}

func TestFetchStatusErrorNamesPageTitle(t *testing.T) {
	page := `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Access Denied &ndash; consilium.europa.eu</title></head>` +
		`<body><h1>Access Denied</h1><p>Reference #18.2f1e1002</p></body></html>`
	cases := []struct {
		name    string
		gzipped bool
	}{{"plain", false}, {"gzipped", true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if c.gzipped {
					w.Header().Set("Content-Encoding", "gzip")
					w.WriteHeader(http.StatusForbidden)
					w.Write(fetchGzip(t, []byte(page)))
					return
				}
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, page)
			}))
			defer srv.Close()
			f := fetchNew(t, FetcherOptions{})
			_, err := f.Fetch(context.Background(), srv.URL+"/en/rss/pressreleases.ashx", Validators{}, "")
			se := fetchWantKind(t, err, KindStatus)
			if se.Status != 403 || se.Title != "Access Denied – consilium.europa.eu" {
				t.Fatalf("status %d, title %q", se.Status, se.Title)
			}
			msg := se.Error()
			if !strings.Contains(msg, "HTTP 403") || !strings.Contains(msg, "Access Denied") || !strings.Contains(msg, "/en/rss/pressreleases.ashx") {
				t.Fatalf("message %q should name the status, the page title and the URL", msg)
			}
		})
	}
}

func TestFetchStatusErrorWithoutPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusNotFound)
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindStatus)
	if se.Status != 404 || se.Title != "" || !strings.Contains(se.Error(), "HTTP 404: not found") {
		t.Fatalf("error = %v (title %q)", se, se.Title)
	}
}

func TestFetchRedirectLimit(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/r/"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if n > 0 {
			http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusFound)
			return
		}
		fmt.Fprint(w, fetchTestFeed)
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})

	r, err := f.Fetch(context.Background(), srv.URL+"/r/5", Validators{}, "")
	if err != nil {
		t.Fatalf("5 redirects: %v", err)
	}
	if r.URL != srv.URL+"/r/0" || hits.Load() != 6 {
		t.Fatalf("5 redirects ended at %q after %d requests", r.URL, hits.Load())
	}

	hits.Store(0)
	_, err = f.Fetch(context.Background(), srv.URL+"/r/6", Validators{}, "")
	se := fetchWantKind(t, err, KindStatus)
	if se.Status != http.StatusFound || !strings.Contains(se.Error(), "too many redirects") {
		t.Fatalf("6 redirects: %v (status %d)", se, se.Status)
	}
	if hits.Load() != 6 {
		t.Fatalf("6 redirects made %d requests, want 6 (the 7th is not sent)", hits.Load())
	}
}

func TestFetchHostDelaySpacesRequests(t *testing.T) {
	const delay = 300 * time.Millisecond
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{HostDelay: delay, Concurrency: 4})

	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if _, err := f.Fetch(context.Background(), srv.URL, Validators{}, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	mu.Lock()
	got := append([]time.Time(nil), arrivals...)
	mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d requests arrived, want 3", len(got))
	}
	for i := 1; i < len(got); i++ {
		// Arrival times carry scheduling noise; with no spacing they would be ~0 apart.
		if gap := got[i].Sub(got[i-1]); gap < delay-100*time.Millisecond {
			t.Errorf("requests %d and %d to one host were %v apart, want at least %v", i-1, i, gap, delay)
		}
	}

	// Waiting for the host's turn gives up with the context.
	slow := fetchNew(t, FetcherOptions{HostDelay: time.Hour})
	if _, err := slow.Fetch(context.Background(), srv.URL, Validators{}, ""); err != nil {
		t.Fatal(err)
	}
	// Another host name is not held back by this one.
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	otherCtx, otherCancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer otherCancel()
	if _, err := slow.Fetch(otherCtx, other, Validators{}, ""); err != nil {
		t.Fatalf("another host was held back: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := slow.Fetch(ctx, srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindNetwork)
	if !strings.Contains(se.Error(), "waiting for a fetch slot") || time.Since(start) > 5*time.Second {
		t.Fatalf("cancelled wait = %v after %v", se, time.Since(start))
	}
}

func TestFetchConcurrencyLimit(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
		inFlight.Add(-1)
		fmt.Fprint(w, "ok")
	}))
	defer srv.Close()
	// Two host names so that per-host limits of the transport play no part.
	hosts := []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
	f := fetchNew(t, FetcherOptions{Concurrency: 2})

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := f.Fetch(context.Background(), hosts[i%2], Validators{}, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("at most %d requests were in flight at once, want 2", p)
	}
}

// fetchClock is a settable clock for Retry-After tests.
type fetchClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fetchClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fetchClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestFetchRetryAfterSeconds(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "3")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		fmt.Fprint(w, fetchTestFeed)
	}))
	defer srv.Close()
	clock := &fetchClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	f := fetchNew(t, FetcherOptions{Now: clock.Now})
	feed := srv.URL + "/rss"
	until := clock.Now().Add(3 * time.Second)

	_, err := f.Fetch(context.Background(), feed, Validators{}, "")
	se := fetchWantKind(t, err, KindRateLimit)
	if se.Status != 429 || !se.RetryAfter.Equal(until) {
		t.Fatalf("429: status %d, RetryAfter %v; want 429 and %v", se.Status, se.RetryAfter, until)
	}
	if nb := f.NotBefore(srv.URL + "/other/page"); !nb.Equal(until) {
		t.Fatalf("NotBefore = %v, want %v for every URL of the host", nb, until)
	}

	clock.Advance(2 * time.Second)
	_, err = f.Fetch(context.Background(), feed, Validators{}, "")
	se = fetchWantKind(t, err, KindRateLimit)
	if !se.RetryAfter.Equal(until) || hits.Load() != 1 {
		t.Fatalf("inside the window: RetryAfter %v, server hits %d; want %v and 1", se.RetryAfter, hits.Load(), until)
	}
	if !strings.Contains(se.Error(), "retry after 2026-03-02T09:00:03Z") {
		t.Fatalf("message %q should say when to retry", se.Error())
	}

	clock.Advance(1 * time.Second)
	r, err := f.Fetch(context.Background(), feed, Validators{}, "")
	if err != nil || r.Status != 200 || hits.Load() != 2 {
		t.Fatalf("after the window: %v, %v, hits %d", r, err, hits.Load())
	}
	if nb := f.NotBefore(feed); !nb.IsZero() {
		t.Fatalf("NotBefore after the window = %v, want zero", nb)
	}
}

func TestFetchRetryAfterDateOn503(t *testing.T) {
	clock := &fetchClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	until := clock.Now().Add(time.Hour)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", until.Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "<html><head><title>Technical Difficulties</title></head><body></body></html>")
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{Now: clock.Now})
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindStatus)
	if se.Status != 503 || !se.RetryAfter.Equal(until) || se.Title != "Technical Difficulties" {
		t.Fatalf("503: status %d RetryAfter %v title %q", se.Status, se.RetryAfter, se.Title)
	}
	_, err = f.Fetch(context.Background(), srv.URL, Validators{}, "")
	if se := fetchWantKind(t, err, KindRateLimit); !se.RetryAfter.Equal(until) {
		t.Fatalf("second fetch RetryAfter = %v", se.RetryAfter)
	}
}

func TestFetchParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"120", now.Add(2 * time.Minute)},
		{" 7 ", now.Add(7 * time.Second)},
		{"0", time.Time{}},
		{"-5", time.Time{}},
		{"soon", time.Time{}},
		{"99999999999", now.Add(24 * time.Hour)},
		{"Mon, 02 Mar 2026 10:30:00 GMT", now.Add(90 * time.Minute)},
		{"Monday, 02-Mar-26 10:30:00 GMT", now.Add(90 * time.Minute)},
		{"Mon, 02 Mar 2026 08:00:00 GMT", time.Time{}},
		{"Fri, 01 Jan 2100 00:00:00 GMT", now.Add(24 * time.Hour)},
	}
	for _, c := range cases {
		if got := fetchParseRetryAfter(c.in, now); !got.Equal(c.want) {
			t.Errorf("fetchParseRetryAfter(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFetchMaxAge(t *testing.T) {
	cases := []struct {
		in   []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"no-cache"}, 0},
		{[]string{"public, max-age=600"}, 10 * time.Minute},
		{[]string{"private", "Max-Age=60, must-revalidate"}, time.Minute},
		{[]string{`max-age="30"`}, 30 * time.Second},
		{[]string{"max-age=-1"}, 0},
		{[]string{"max-age=soon"}, 0},
		{[]string{"max-age=99999999999999"}, 365 * 24 * time.Hour},
	}
	for _, c := range cases {
		if got := fetchMaxAge(c.in); got != c.want {
			t.Errorf("fetchMaxAge(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestFetchNetworkError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	f := fetchNew(t, FetcherOptions{})
	_, err = f.Fetch(context.Background(), "http://"+addr+"/rss", Validators{}, "")
	se := fetchWantKind(t, err, KindNetwork)
	if !strings.Contains(se.Error(), "connection refused") {
		t.Fatalf("error = %v, want the cause", se)
	}
}

func TestFetchHTTPSWithHTTP2(t *testing.T) {
	var proto atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(fetchGzip(t, []byte(fetchTestFeed)))
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	f.transport.TLSClientConfig.RootCAs = roots

	r, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != fetchTestFeed || proto.Load() != "HTTP/2.0" {
		t.Fatalf("body %q over %v, want the feed over HTTP/2.0", r.Body, proto.Load())
	}
}

func TestFetchForgetsIdleHosts(t *testing.T) {
	clock := &fetchClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	f := fetchNew(t, FetcherOptions{HostDelay: time.Second, Now: clock.Now})
	f.fetchRemember("busy.example.org", clock.Now().Add(time.Hour))
	for i := range 2 * fetchHostSweep {
		clock.Advance(10 * time.Millisecond)
		release, _, err := f.fetchAcquire(context.Background(), fmt.Sprintf("host-%d.example.org", i))
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	f.mu.Lock()
	n := len(f.hosts)
	f.mu.Unlock()
	if n > fetchHostSweep {
		t.Fatalf("%d hosts remembered, want at most %d", n, fetchHostSweep)
	}
	if nb := f.NotBefore("https://busy.example.org/feed"); nb.IsZero() {
		t.Fatal("a host under Retry-After was forgotten")
	}
}

// A Retry-After given at the end of a redirect holds back the next fetch
// of the URL that was asked, whose host is the one checked before a fetch.
func TestFetchRetryAfterAfterRedirectHoldsTheAskedHost(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/rss" {
			// The same server under another host name, as a CDN would be.
			http.Redirect(w, r, strings.Replace(srvURL(r), "127.0.0.1", "localhost", 1)+"/moved", http.StatusFound)
			return
		}
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	defer srv.Close()
	clock := &fetchClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	f := fetchNew(t, FetcherOptions{Now: clock.Now})
	feed := srv.URL + "/rss"
	_, err := f.Fetch(context.Background(), feed, Validators{}, "")
	fetchWantKind(t, err, KindRateLimit)
	until := clock.Now().Add(120 * time.Second)
	if nb := f.NotBefore(feed); !nb.Equal(until) {
		t.Fatalf("NotBefore(%s) = %v, want %v", feed, nb, until)
	}
	before := hits.Load()
	_, err = f.Fetch(context.Background(), feed, Validators{}, "")
	fetchWantKind(t, err, KindRateLimit)
	if hits.Load() != before {
		t.Fatalf("the host was asked again inside its Retry-After (%d requests, want %d)", hits.Load(), before)
	}
}

func srvURL(r *http.Request) string { return "http://" + r.Host }
