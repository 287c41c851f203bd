package sources

import (
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// hostileGuarded builds a Fetcher with the guard on that may reach only the
// given test server, so that what it is redirected to meets the guard.
func hostileGuarded(t *testing.T, allowed *httptest.Server) *Fetcher {
	t.Helper()
	f := NewFetcher(FetcherOptions{})
	t.Cleanup(f.Close)
	if allowed != nil {
		ap := netip.MustParseAddrPort(allowed.Listener.Addr().String())
		f.fetchDialAllow = func(a netip.AddrPort) bool { return a == ap }
	}
	return f
}

// hostileCounter is a server that counts the requests it gets.
func hostileCounter(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, "internal admin page")
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestHostileGzipBomb(t *testing.T) {
	// 1 GiB of zeros, compressed while it is sent: about 1 MiB on the wire.
	var sentMiB atomic.Int32
	handlerDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for range 1 << 10 {
			if _, err := zw.Write(zeros); err != nil {
				return // the client hung up, as it should
			}
			sentMiB.Add(1)
		}
		zw.Close()
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{MaxBytes: 1 << 20, Timeout: 60 * time.Second})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)

	fetchWantKind(t, err, KindTooLarge)
	// Timing on a loaded machine varies, so no duration is asserted; what must
	// hold is that the client hangs up long before the end, so the server stops
	// well short of 1 GiB, and that memory stays bounded.
	<-handlerDone
	if n := sentMiB.Load(); n >= 256 {
		t.Errorf("the server compressed %d MiB before the client hung up, want far less than 1024", n)
	}
	const budget = 48 << 20
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > budget {
		t.Errorf("heap grew by %d MiB, want under %d MiB", grew>>20, budget>>20)
	}
	// TotalAlloc counts every allocation, so a buffer that grew and was freed shows too.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > budget {
		t.Errorf("allocated %d MiB in all, want under %d MiB", allocated>>20, budget>>20)
	}
	t.Logf("refused after %v; server compressed %d MiB; %d KiB allocated", elapsed, sentMiB.Load(), (after.TotalAlloc-before.TotalAlloc)>>10)
}

func TestHostileEndlessPlainBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("<item>spam</item>", 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{MaxBytes: 256 << 10})
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	fetchWantKind(t, err, KindTooLarge)
}

func TestHostileDripTimesOut(t *testing.T) {
	cases := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"body one byte at a time", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rss+xml")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			for {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(250 * time.Millisecond):
					w.Write([]byte("<"))
					w.(http.Flusher).Flush()
				}
			}
		}},
		{"headers never come", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.handler)
			defer srv.Close()
			f := fetchNew(t, FetcherOptions{Timeout: time.Second})
			start := time.Now()
			_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
			elapsed := time.Since(start)
			se := fetchWantKind(t, err, KindNetwork)
			if !strings.Contains(se.Error(), "timeout after 1s") {
				t.Errorf("error = %v, want it to name the timeout", se)
			}
			if elapsed < 900*time.Millisecond || elapsed > 2500*time.Millisecond {
				t.Errorf("failed after %v, want about the 1s timeout", elapsed)
			}
		})
	}
}

func TestHostileCallerCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := f.Fetch(ctx, srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindNetwork)
	if !strings.Contains(se.Error(), "cancelled") {
		t.Fatalf("error = %v, want it to say the fetch was cancelled", se)
	}
}

func TestHostileRedirectLoops(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		switch r.URL.Path {
		case "/self":
			http.Redirect(w, r, "/self", http.StatusFound)
		case "/a":
			http.Redirect(w, r, "/b", http.StatusMovedPermanently)
		case "/b":
			http.Redirect(w, r, "/a", http.StatusMovedPermanently)
		case "/grow":
			// A loop that changes its URL each time is stopped by the count.
			n := len(r.URL.Query()["n"])
			http.Redirect(w, r, "/grow?"+strings.Repeat("n=1&", n+1), http.StatusFound)
		}
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})

	cases := []struct {
		path, want string
		requests   int32
	}{
		{"/self", "redirect loop", 1},
		{"/a", "redirect loop", 2},
		{"/grow", "too many redirects", 6},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			hits.Store(0)
			start := time.Now()
			_, err := f.Fetch(context.Background(), srv.URL+c.path, Validators{}, "")
			se := fetchWantKind(t, err, KindStatus)
			if !strings.Contains(se.Error(), c.want) || hits.Load() != c.requests {
				t.Fatalf("error %v after %d requests; want %q after %d", se, hits.Load(), c.want, c.requests)
			}
			if time.Since(start) > time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
		})
	}
}

func TestHostileRedirectToPrivateAddress(t *testing.T) {
	internal, internalHits := hostileCounter(t)
	cases := []struct {
		name, target, want string
	}{
		{"loopback", internal.URL + "/admin", "127.0.0.1 is a loopback address"},
		{"cloud metadata", "http://169.254.169.254/latest/meta-data/iam/security-credentials/", "169.254.169.254 is a link-local address"},
		{"IPv4-mapped loopback", fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", internal.Listener.Addr().(*net.TCPAddr).Port), "127.0.0.1 is a loopback address"},
		{"private", "http://10.0.0.1/", "10.0.0.1 is a private address"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var publicHits atomic.Int32
			public := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				publicHits.Add(1)
				http.Redirect(w, r, c.target, http.StatusFound)
			}))
			defer public.Close()
			f := hostileGuarded(t, public)
			start := time.Now()
			_, err := f.Fetch(context.Background(), public.URL+"/rss", Validators{}, "")
			se := fetchWantKind(t, err, KindRefused)
			if !strings.Contains(se.Error(), c.want) {
				t.Fatalf("error = %v, want it to say %q", se, c.want)
			}
			if publicHits.Load() != 1 || internalHits.Load() != 0 {
				t.Fatalf("first hop hit %d times, internal server %d times; want 1 and 0", publicHits.Load(), internalHits.Load())
			}
			if time.Since(start) > time.Second {
				t.Fatalf("refusal took %v, want it before any connection", time.Since(start))
			}
		})
	}
}

func TestHostileDirectPrivateTargets(t *testing.T) {
	internal, hits := hostileCounter(t)
	port := internal.Listener.Addr().(*net.TCPAddr).Port
	f := hostileGuarded(t, nil)
	cases := []struct {
		url, want string
	}{
		{internal.URL, "127.0.0.1 is a loopback address"},
		{fmt.Sprintf("http://localhost:%d/", port), "is a loopback address"},
		{fmt.Sprintf("http://[::1]:%d/", port), "::1 is a loopback address"},
		{fmt.Sprintf("http://0.0.0.0:%d/", port), "0.0.0.0 is the unspecified address"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			_, err := f.Fetch(context.Background(), c.url, Validators{}, "")
			se := fetchWantKind(t, err, KindRefused)
			if !strings.Contains(se.Error(), c.want) {
				t.Fatalf("error = %v, want %q", se, c.want)
			}
		})
	}
	if hits.Load() != 0 {
		t.Fatalf("the internal server was reached %d times", hits.Load())
	}
}

// hostileDNS serves A records that map every name to addr, as a hostile or
// rebinding DNS server would, and returns a resolver that asks it.
func hostileDNS(t *testing.T, addr netip.Addr) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: addr.As4()})
			}
			msg, err := b.Finish()
			if err != nil {
				continue
			}
			pc.WriteTo(msg, from)
		}
	}()
	server := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", server)
	}}
}

func TestHostileNameResolvingToLoopback(t *testing.T) {
	var hits atomic.Int32
	var hostSeen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hostSeen.Store(r.Host)
		fmt.Fprint(w, fetchTestFeed)
	}))
	defer srv.Close()
	resolver := hostileDNS(t, netip.MustParseAddr("127.0.0.1"))
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	feed := fmt.Sprintf("http://feeds.policy-news.test:%d/rss", port)

	guarded := NewFetcher(FetcherOptions{Resolver: resolver})
	defer guarded.Close()
	_, err := guarded.Fetch(context.Background(), feed, Validators{}, "")
	se := fetchWantKind(t, err, KindRefused)
	if !strings.Contains(se.Error(), "127.0.0.1 is a loopback address") || hits.Load() != 0 {
		t.Fatalf("error = %v with %d requests; want a refusal naming 127.0.0.1 and none sent", se, hits.Load())
	}

	// The same answer with the guard off shows the resolver is the one asked.
	open := NewFetcher(FetcherOptions{Resolver: resolver, AllowPrivate: true})
	defer open.Close()
	r, err := open.Fetch(context.Background(), feed, Validators{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != fetchTestFeed || hostSeen.Load() != fmt.Sprintf("feeds.policy-news.test:%d", port) {
		t.Fatalf("body %q, Host %v", r.Body, hostSeen.Load())
	}
}

func TestHostileSchemes(t *testing.T) {
	f := fetchNew(t, FetcherOptions{})
	for _, u := range []string{"file:///etc/passwd", "ftp://ftp.example.org/feed.xml", "gopher://example.org/", "/relative/feed.xml", "http:///no-host", "https://%zz"} {
		_, err := f.Fetch(context.Background(), u, Validators{}, "")
		fetchWantKind(t, err, KindRefused)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	defer srv.Close()
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindRefused)
	if !strings.Contains(se.Error(), "only http and https") {
		t.Fatalf("error = %v", se)
	}
}

func TestHostileSecretsStayOutOfErrors(t *testing.T) {
	f := hostileGuarded(t, nil)
	_, err := f.Fetch(context.Background(), "http://reader:hunter2@127.0.0.1:9/feed", Validators{}, "")
	se := fetchWantKind(t, err, KindRefused)
	if strings.Contains(se.Error(), "hunter2") {
		t.Fatalf("error %q shows the password", se.Error())
	}
	_, err = f.Fetch(context.Background(), "ftp://reader:hunter2@example.org/feed", Validators{}, "")
	if strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %q shows the password", err)
	}
}

func TestHostileHugeHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 40 {
			w.Header().Set(fmt.Sprintf("X-Junk-%d", i), strings.Repeat("a", 64<<10))
		}
		fmt.Fprint(w, fetchTestFeed)
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	_, err := f.Fetch(context.Background(), srv.URL, Validators{}, "")
	se := fetchWantKind(t, err, KindNetwork)
	if !strings.Contains(se.Error(), "header") {
		t.Fatalf("error = %v", se)
	}
}

func TestHostileEnvironmentProxyIgnored(t *testing.T) {
	var proxyHits atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxyHits.Add(1)
		fmt.Fprint(w, "from the proxy")
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "direct")
	}))
	defer srv.Close()
	f := fetchNew(t, FetcherOptions{})
	// A host name, since Go never proxies requests to loopback literals.
	u, _ := url.Parse(srv.URL)
	u.Host = "localhost:" + u.Port()
	r, err := f.Fetch(context.Background(), u.String(), Validators{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != "direct" || proxyHits.Load() != 0 {
		t.Fatalf("body %q, proxy hits %d; want a direct connection", r.Body, proxyHits.Load())
	}
}
