package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/policywire/policywire/config"
)

// FixtureServer serves source fixtures on loopback the way a well-behaved
// publisher does: a strong ETag per body and 304 to a matching
// If-None-Match. Bodies can be replaced while it runs, and a path can be
// made to answer with any status, so tests can make a source gain items,
// fail, or recover.
type FixtureServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   map[string]fixtureBody
	requests map[string]int
}

type fixtureBody struct {
	body        []byte
	contentType string
	status      int
	header      http.Header
}

// NewFixtureServer starts an empty fixture server, closed at test end.
func NewFixtureServer(t testing.TB) *FixtureServer {
	f := &FixtureServer{bodies: map[string]fixtureBody{}, requests: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Set serves body at path with status 200.
func (f *FixtureServer) Set(path string, body []byte, contentType string) {
	f.SetStatus(path, 200, body, contentType, nil)
}

// SetStatus serves body at path with any status and extra headers.
func (f *FixtureServer) SetStatus(path string, status int, body []byte, contentType string, header http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bodies[path] = fixtureBody{body: body, contentType: contentType, status: status, header: header}
}

// Requests counts the requests a path has received.
func (f *FixtureServer) Requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

func (f *FixtureServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fb, ok := f.bodies[r.URL.Path]
	f.requests[r.URL.Path]++
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, vs := range fb.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if fb.contentType != "" {
		w.Header().Set("Content-Type", fb.contentType)
	}
	if fb.status == http.StatusOK {
		sum := sha256.Sum256(fb.body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.WriteHeader(fb.status)
	_, _ = w.Write(fb.body)
}

// RepoRoot is the repository's top folder, found from this file.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SourceFixture reads a file of sources/testdata/fixtures.
func SourceFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "sources", "testdata", "fixtures", name))
	if err != nil {
		t.Fatalf("testenv: fixture %s: %v", name, err)
	}
	return b
}

// ContentTypeFor guesses a content type from a fixture's name.
func ContentTypeFor(name string) string {
	switch {
	case strings.HasSuffix(name, ".atom"):
		return "application/atom+xml; charset=utf-8"
	case strings.HasSuffix(name, ".rss"), strings.HasSuffix(name, ".xml"):
		return "application/rss+xml; charset=utf-8"
	case strings.HasSuffix(name, ".json"):
		return "application/json; charset=utf-8"
	default:
		return "text/html; charset=utf-8"
	}
}

// FixtureSources loads sources/testdata/fixtures/sources.yaml, the sources
// the fixtures stand for, with the real config loader (so the file stays a
// valid config), by source id.
func FixtureSources(t testing.TB) map[string]config.Source {
	t.Helper()
	cfg, err := config.Parse("sources/testdata/fixtures/sources.yaml", SourceFixture(t, "sources.yaml"))
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	out := make(map[string]config.Source, len(cfg.Sources))
	for _, s := range cfg.Sources {
		out[s.ID] = s
	}
	return out
}

// LoopbackURL is where ServeAs serves a public URL on this server: the
// host becomes the first part of the path, so sources of many hosts can
// share one server without their paths colliding. The query is kept.
func (f *FixtureServer) LoopbackURL(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		return publicURL
	}
	out := f.URL + "/" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	return out
}

// ServeAs serves body for a public URL (see LoopbackURL) and returns the
// loopback URL to fetch instead.
func (f *FixtureServer) ServeAs(publicURL string, body []byte, contentType string) string {
	local := f.LoopbackURL(publicURL)
	u, _ := url.Parse(local)
	f.Set(u.Path, body, contentType)
	return local
}
