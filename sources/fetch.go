package sources

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for the options a caller leaves at zero.
const (
	DefaultUserAgent   = "policywire/1.0 (+https://github.com/policywire/policywire)"
	DefaultTimeout     = 30 * time.Second
	DefaultMaxBytes    = 10 << 20
	DefaultConcurrency = 8
)

const (
	// fetchMaxRedirects is how many redirects one fetch follows.
	fetchMaxRedirects = 5
	// fetchErrorPageBytes is how much of an error page is read for its title.
	fetchErrorPageBytes = 64 << 10
	// fetchMaxRetryAfter caps a Retry-After so a hostile or broken server
	// cannot silence a source for ever.
	fetchMaxRetryAfter = 24 * time.Hour
	// fetchHostSweep is how many remembered hosts trigger forgetting the idle ones.
	fetchHostSweep = 512
)

// Validators are the cache validators of a previous answer, sent back so the
// server can answer 304 Not Modified.
type Validators struct {
	ETag, LastModified string
}

// Response is a successful fetch.
type Response struct {
	URL         string        // final URL after redirects
	Status      int           // 200 (or another 2xx) or 304
	NotModified bool          // 304: Body is nil and costs no parsing
	Body        []byte        // decompressed, at most MaxBytes
	ContentType string        // the Content-Type header
	Validators  Validators    // from this answer (on 304: the ones sent, refreshed if the server sent new ones)
	MaxAge      time.Duration // Cache-Control max-age, 0 if none
	Size        int64         // bytes of body after decompression
	Duration    time.Duration // from the first byte sent to the last byte read
}

// FetcherOptions configure a Fetcher. Zero values take the defaults above;
// HostDelay 0 means no spacing.
type FetcherOptions struct {
	UserAgent   string
	Timeout     time.Duration // whole request, body included
	MaxBytes    int64         // body cap after decompression
	Concurrency int           // requests in flight at once, all hosts together
	HostDelay   time.Duration // at least this long between two requests to one host
	// AllowPrivate lets requests reach loopback, private and link-local addresses.
	AllowPrivate bool
	// Now is the clock, time.Now when nil.
	Now func() time.Time
	// Resolver looks host names up; net.DefaultResolver when nil.
	Resolver *net.Resolver
	// Logger receives one debug line per fetch; nothing is logged when nil.
	Logger *slog.Logger
}

// Fetcher makes every outbound HTTP request of the bot: conditional GETs
// with a body cap applied after decompression, a whole-request timeout,
// at most five redirects, per-host spacing and Retry-After, an overall
// concurrency limit, and no connection to a private address unless allowed.
// It is safe for concurrent use.
type Fetcher struct {
	client       *http.Client
	transport    *http.Transport
	userAgent    string
	timeout      time.Duration
	maxBytes     int64
	hostDelay    time.Duration
	allowPrivate bool
	now          func() time.Time
	log          *slog.Logger
	sem          chan struct{}

	mu    sync.Mutex
	hosts map[string]*fetchHost

	// fetchDialAllow lets tests reach chosen loopback servers while the
	// guard is on; nil in production.
	fetchDialAllow func(netip.AddrPort) bool
}

// fetchHost is what the fetcher remembers of one host name.
type fetchHost struct {
	// gate admits one request at a time to the start of a request, so
	// waiting for the spacing does not hold a concurrency slot.
	gate      chan struct{}
	lastStart time.Time
	notBefore time.Time // from Retry-After
	users     int       // goroutines inside fetchAcquire for this host
}

// NewFetcher builds a Fetcher; call Close when done.
func NewFetcher(o FetcherOptions) *Fetcher {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.HostDelay < 0 {
		o.HostDelay = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Fetcher{
		userAgent:    o.UserAgent,
		timeout:      o.Timeout,
		maxBytes:     o.MaxBytes,
		hostDelay:    o.HostDelay,
		allowPrivate: o.AllowPrivate,
		now:          o.Now,
		log:          o.Logger,
		sem:          make(chan struct{}, o.Concurrency),
		hosts:        make(map[string]*fetchHost),
	}
	dialer := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Resolver:  o.Resolver,
		Control:   f.guardControl,
	}
	f.transport = &http.Transport{
		// Proxies from the environment are ignored: the guard checks the
		// address we connect to, and through a proxy that is the proxy's,
		// which would then reach private addresses on our behalf.
		Proxy:             nil,
		DialContext:       dialer.DialContext,
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{MinVersion: tls.VersionTLS12},
		// We ask for gzip ourselves and decode it, so that the body cap
		// counts decompressed bytes.
		DisableCompression:     true,
		MaxIdleConns:           256,
		MaxIdleConnsPerHost:    4,
		MaxConnsPerHost:        o.Concurrency,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	f.client = &http.Client{
		Transport:     f.transport,
		CheckRedirect: fetchCheckRedirect,
	}
	return f
}

// Close releases idle connections. Fetches still running finish normally.
func (f *Fetcher) Close() {
	f.transport.CloseIdleConnections()
}

// NotBefore is when url's host may be asked again because of a remembered
// Retry-After (zero if free).
func (f *Fetcher) NotBefore(rawURL string) time.Time {
	u, err := url.Parse(rawURL)
	if err != nil {
		return time.Time{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.hosts[fetchHostKey(u)]; h != nil && h.notBefore.After(f.now()) {
		return h.notBefore
	}
	return time.Time{}
}

// Fetch GETs url, sending the validators, and returns the body or a *Error.
// accept is the Accept header ("*/*" when empty). The timeout covers the
// request from the first byte sent to the last byte read; waiting for the
// host's turn (fetch.host_delay) and a slot (fetch.concurrency) comes before
// it and ends with ctx. Redirects are part of the one request.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, v Validators, accept string) (*Response, error) {
	u, err := fetchParseURL(rawURL)
	if err != nil {
		return nil, &Error{Kind: KindRefused, URL: ShownURL(rawURL), Err: err}
	}
	shown := shownURL(u)
	resp, err := f.fetch(ctx, u, shown, v, accept)
	if err != nil {
		f.log.Debug("sources: fetch failed", "url", shown, "err", err)
		return nil, err
	}
	f.log.Debug("sources: fetched", "url", shown, "final_url", resp.URL, "status", resp.Status,
		"bytes", resp.Size, "duration", resp.Duration)
	return resp, nil
}

func (f *Fetcher) fetch(ctx context.Context, u *url.URL, shown string, v Validators, accept string) (*Response, error) {
	host := fetchHostKey(u)
	if t := f.NotBefore(u.String()); !t.IsZero() {
		return nil, fetchRateLimited(shown, t)
	}
	release, notBefore, err := f.fetchAcquire(ctx, host)
	if !notBefore.IsZero() {
		return nil, fetchRateLimited(shown, notBefore)
	}
	if err != nil {
		return nil, &Error{Kind: KindNetwork, URL: shown, Err: fmt.Errorf("waiting for a fetch slot: %w", err)}
	}
	defer release()

	start := f.now()
	reqCtx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	resp, err := f.fetchDo(reqCtx, u, v, accept)
	if err != nil {
		return nil, f.fetchFailure(ctx, reqCtx, shown, err)
	}
	defer func() {
		// Cancel first: closing a body that was not read to its end would
		// otherwise read on (up to 256 KiB) to keep the connection, which
		// for a compression bomb or a drip means waiting on the server.
		cancel()
		resp.Body.Close()
	}()

	out, err := f.fetchAnswer(ctx, reqCtx, host, shown, resp, v)
	if err != nil {
		return nil, err
	}
	out.Duration = f.now().Sub(start)
	return out, nil
}

func fetchRateLimited(shown string, until time.Time) *Error {
	return &Error{Kind: KindRateLimit, URL: shown, RetryAfter: until,
		Err: errors.New("not asked again before its Retry-After")}
}

func (f *Fetcher) fetchDo(ctx context.Context, u *url.URL, v Validators, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if accept == "" {
		accept = "*/*"
	}
	req.Header.Set("User-Agent", f.userAgent)
	req.Header.Set("Accept", accept)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	return f.client.Do(req)
}

// fetchAnswer turns a response into a Response or a *Error.
func (f *Fetcher) fetchAnswer(ctx, reqCtx context.Context, host, shown string, resp *http.Response, sent Validators) (*Response, error) {
	final := shown
	if resp.Request != nil && resp.Request.URL != nil {
		final = shownURL(resp.Request.URL)
	}
	validators := Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	out := &Response{
		URL:         final,
		Status:      resp.StatusCode,
		ContentType: resp.Header.Get("Content-Type"),
		Validators:  validators,
		MaxAge:      fetchMaxAge(resp.Header.Values("Cache-Control")),
	}

	switch {
	case resp.StatusCode == http.StatusNotModified:
		// No body to read: closing is all it takes.
		out.NotModified = true
		if out.Validators.ETag == "" {
			out.Validators.ETag = sent.ETag
		}
		if out.Validators.LastModified == "" {
			out.Validators.LastModified = sent.LastModified
		}
		return out, nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	default:
		return nil, f.fetchStatusError(host, shown, resp)
	}

	if resp.ContentLength > f.maxBytes && fetchIdentity(resp.Header.Get("Content-Encoding")) {
		return nil, &Error{Kind: KindTooLarge, URL: shown,
			Err: fmt.Errorf("Content-Length %d is over %d bytes", resp.ContentLength, f.maxBytes)}
	}
	body, err := fetchReadBody(resp, f.maxBytes)
	if err != nil {
		var big *fetchTooLargeError
		if errors.As(err, &big) {
			return nil, &Error{Kind: KindTooLarge, URL: shown, Err: err}
		}
		return nil, f.fetchFailure(ctx, reqCtx, shown, err)
	}
	out.Body = body
	out.Size = int64(len(body))
	return out, nil
}

// fetchStatusError builds the error of a non-2xx, non-304 answer, with the
// title of an HTML error page and the Retry-After of a 429 or 503. The
// Retry-After is remembered for host, the host that was asked (not the one
// a redirect ended at), since that is the host the next fetch checks.
func (f *Fetcher) fetchStatusError(host, shown string, resp *http.Response) *Error {
	e := &Error{Kind: KindStatus, URL: shown, Status: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if resp.StatusCode == http.StatusTooManyRequests {
			e.Kind = KindRateLimit
		}
		if t := fetchParseRetryAfter(resp.Header.Get("Retry-After"), f.now()); !t.IsZero() {
			e.RetryAfter = t
			f.fetchRemember(host, t)
		}
	}
	// The page is read only for its title: a short or broken one is no error.
	page, _ := fetchReadBody(resp, fetchErrorPageBytes)
	if LooksLikeHTML(page) {
		if e.Title = PageTitle(page); e.Title != "" {
			e.Err = fmt.Errorf("page title %q", e.Title)
		}
	}
	if text := http.StatusText(resp.StatusCode); e.Err == nil && text != "" {
		e.Err = errors.New(strings.ToLower(text))
	}
	return e
}

// fetchFailure classifies an error of the request or of the body read.
func (f *Fetcher) fetchFailure(ctx, reqCtx context.Context, shown string, err error) *Error {
	var refused *guardRefusedError
	if errors.As(err, &refused) {
		return &Error{Kind: KindRefused, URL: shown, Err: refused}
	}
	var redirect *fetchRedirectError
	if errors.As(err, &redirect) {
		kind := KindStatus
		if redirect.refused {
			kind = KindRefused
		}
		return &Error{Kind: kind, URL: shown, Status: redirect.status, Err: redirect}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its URL repeats ours
	}
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("cancelled: %w", context.Cause(ctx))
	case reqCtx.Err() != nil:
		err = fmt.Errorf("timeout after %s (fetch.timeout): %w", f.timeout, reqCtx.Err())
	}
	return &Error{Kind: KindNetwork, URL: shown, Err: err}
}

// fetchAcquire waits for the host's turn and a concurrency slot. When the
// host is under a Retry-After it returns that time instead.
func (f *Fetcher) fetchAcquire(ctx context.Context, host string) (release func(), notBefore time.Time, err error) {
	f.mu.Lock()
	h := f.hosts[host]
	if h == nil {
		if len(f.hosts) >= fetchHostSweep {
			f.fetchSweepLocked()
		}
		h = &fetchHost{gate: make(chan struct{}, 1)}
		f.hosts[host] = h
	}
	h.users++
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		h.users--
		f.mu.Unlock()
	}()

	select {
	case h.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, context.Cause(ctx)
	}
	defer func() { <-h.gate }()

	f.mu.Lock()
	now := f.now()
	if h.notBefore.After(now) {
		notBefore = h.notBefore
		f.mu.Unlock()
		return nil, notBefore, nil
	}
	wait := h.lastStart.Add(f.hostDelay).Sub(now)
	f.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, time.Time{}, context.Cause(ctx)
		}
	}

	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, context.Cause(ctx)
	}
	f.mu.Lock()
	h.lastStart = f.now()
	f.mu.Unlock()
	return func() { <-f.sem }, time.Time{}, nil
}

// fetchSweepLocked forgets hosts that no request waits for and whose
// spacing and Retry-After are over. f.mu is held.
func (f *Fetcher) fetchSweepLocked() {
	now := f.now()
	for k, h := range f.hosts {
		if h.users == 0 && !h.lastStart.Add(f.hostDelay).After(now) && !h.notBefore.After(now) {
			delete(f.hosts, k)
		}
	}
}

// fetchRemember records a Retry-After for host, keeping the later of two.
func (f *Fetcher) fetchRemember(host string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.hosts[host]
	if h == nil {
		h = &fetchHost{gate: make(chan struct{}, 1)}
		f.hosts[host] = h
	}
	if t.After(h.notBefore) {
		h.notBefore = t
	}
}

// fetchRedirectError stops a redirect chain.
type fetchRedirectError struct {
	status  int
	refused bool
	msg     string
}

func (e *fetchRedirectError) Error() string { return e.msg }

func fetchCheckRedirect(req *http.Request, via []*http.Request) error {
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return &fetchRedirectError{status: status, refused: true,
			msg: fmt.Sprintf("redirect to %q: only http and https are fetched", shownURL(req.URL))}
	}
	next := req.URL.String()
	for _, prev := range via {
		if prev.URL.String() == next {
			return &fetchRedirectError{status: status,
				msg: fmt.Sprintf("redirect loop: %s was already visited", shownURL(req.URL))}
		}
	}
	if len(via) > fetchMaxRedirects {
		return &fetchRedirectError{status: status,
			msg: fmt.Sprintf("too many redirects (more than %d)", fetchMaxRedirects)}
	}
	return nil
}

// fetchParseURL accepts absolute http and https URLs only.
func fetchParseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, errors.New("not an absolute URL: the scheme is missing")
	default:
		return nil, fmt.Errorf("scheme %q is not fetched: only http and https are", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, errors.New("the URL has no host")
	}
	return u, nil
}

// fetchHostKey names the host for spacing and Retry-After.
func fetchHostKey(u *url.URL) string {
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
}

// fetchMaxAge reads max-age from Cache-Control headers.
func fetchMaxAge(values []string) time.Duration {
	for _, v := range values {
		for d := range strings.SplitSeq(v, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(d), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(name), "max-age") {
				continue
			}
			secs, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
			if err != nil || secs <= 0 {
				return 0
			}
			const maxSecs = 365 * 24 * 3600
			return time.Duration(min(secs, maxSecs)) * time.Second
		}
	}
	return 0
}

// fetchParseRetryAfter reads Retry-After as seconds or an HTTP date; zero
// when absent, invalid or already past. The wait is capped.
func fetchParseRetryAfter(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	limit := now.Add(fetchMaxRetryAfter)
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return time.Time{}
		}
		if secs > int64(fetchMaxRetryAfter/time.Second) {
			return limit
		}
		return now.Add(time.Duration(secs) * time.Second)
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return time.Time{}
	}
	if t.After(limit) {
		return limit
	}
	return t
}

// fetchLimitedRead reads r up to limit bytes; more is a *fetchTooLargeError.
func fetchLimitedRead(r io.Reader, limit, sizeHint int64) ([]byte, error) {
	var buf bytes.Buffer
	if sizeHint > 0 && sizeHint <= limit {
		buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(buf.Len()) > limit {
		return nil, &fetchTooLargeError{limit: limit}
	}
	return buf.Bytes(), nil
}

type fetchTooLargeError struct{ limit int64 }

func (e *fetchTooLargeError) Error() string {
	return fmt.Sprintf("more than %d bytes after decompression", e.limit)
}
