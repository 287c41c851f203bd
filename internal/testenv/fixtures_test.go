package testenv

import (
	"io"
	"net/http"
	"testing"
)

// get requests path with an optional If-None-Match and returns the answer.
func get(t *testing.T, f *FixtureServer, path, ifNoneMatch string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestFixtureServerConditionalGet(t *testing.T) {
	f := NewFixtureServer(t)
	f.Set("/feed.rss", []byte("<rss/>"), "application/rss+xml")
	resp, body := get(t, f, "/feed.rss", "")
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || body != "<rss/>" || etag == "" || resp.Header.Get("Content-Type") != "application/rss+xml" {
		t.Fatalf("first answer: %d %q ETag %q Content-Type %q", resp.StatusCode, body, etag, resp.Header.Get("Content-Type"))
	}
	if resp, _ := get(t, f, "/feed.rss", etag); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("with its ETag: %d, want 304", resp.StatusCode)
	}

	// A publisher that changes its ETag but not its content is answered in full.
	f.SetResponse("/feed.rss", FixtureResponse{Body: []byte("<rss/>"), ETag: `"v2"`})
	if resp, body := get(t, f, "/feed.rss", etag); resp.StatusCode != http.StatusOK || body != "<rss/>" || resp.Header.Get("ETag") != `"v2"` {
		t.Fatalf("after the ETag changed: %d %q ETag %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	if got := f.Requests("/feed.rss"); got != 3 {
		t.Fatalf("Requests = %d, want 3", got)
	}
}

func TestFixtureServerStatusAndHeaders(t *testing.T) {
	f := NewFixtureServer(t)
	f.SetStatus("/busy", http.StatusTooManyRequests, []byte("slow down"), "text/plain", http.Header{"Retry-After": {"120"}})
	resp, body := get(t, f, "/busy", "")
	if resp.StatusCode != http.StatusTooManyRequests || body != "slow down" || resp.Header.Get("Retry-After") != "120" || resp.Header.Get("ETag") != "" {
		t.Fatalf("answer: %d %q Retry-After %q ETag %q", resp.StatusCode, body, resp.Header.Get("Retry-After"), resp.Header.Get("ETag"))
	}
	if resp, _ := get(t, f, "/missing", ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %d, want 404", resp.StatusCode)
	}
}
