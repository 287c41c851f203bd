package slack

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
)

// commandWith sends a signed command of the env's form with set applied
// (a field and its value, in pairs).
func (e *cmdEnv) commandWith(t *testing.T, text string, set ...string) commandReply {
	t.Helper()
	f := e.form(text)
	for i := 0; i+1 < len(set); i += 2 {
		f.Set(set[i], set[i+1])
	}
	body := f.Encode()
	resp := e.post(t, body, SignRequest(testSigningSecret, []byte(body), time.Now()))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	return decodeReply(t, resp.Body)
}

// commandTo sends a signed command whose response_url is responseURL.
func (e *cmdEnv) commandTo(t *testing.T, text, responseURL string) commandReply {
	t.Helper()
	return e.commandWith(t, text, "response_url", responseURL)
}

// withAPIURL leaves the response_url check to its default for a Slack whose
// Web API is at apiURL, as slack.api_url sets it.
func withAPIURL(apiURL string, answerWithin time.Duration) func(*CommandOptions) {
	return func(o *CommandOptions) {
		o.AllowResponseURL = nil
		o.APIURL = apiURL
		o.HTTPClient = nil
		o.AnswerWithin = answerWithin
	}
}

// TestLateAnswerGoesToTheAPIURLHost: with slack.api_url pointing at a
// Slack-compatible server, a slow command's answer follows to a
// response_url on that host.
func TestLateAnswerGoesToTheAPIURLHost(t *testing.T) {
	fake := slackfake.New(t)
	env := newCmdEnv(t, withAPIURL(fake.URL(), 100*time.Millisecond))
	env.archive.gate = make(chan struct{})
	reply := env.commandTo(t, "search cyber", fake.ResponseURL("T1/1/a"))
	if reply.Text != workingText {
		t.Fatalf("immediate answer %q, want %q", reply.Text, workingText)
	}
	close(env.archive.gate)
	e2eharness.Eventually(t, 10*time.Second, "the answer at the fake's response_url", func() bool { return len(fake.Responses()) == 1 })
	got := fake.Responses()[0]
	if got.Path != "T1/1/a" || !strings.Contains(string(got.Body), "Best matches for cyber") {
		t.Errorf("response_url got %s: %s", got.Path, got.Body)
	}
}

// TestUnrelatedResponseURLIsNeverRequested: a response_url on a host that
// is neither Slack's nor slack.api_url's gets the answer inline when it is
// ready in time, a clear answer when it is not, and never a request.
func TestUnrelatedResponseURLIsNeverRequested(t *testing.T) {
	var requests atomic.Int32
	unrelated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer unrelated.Close()
	fake := slackfake.New(t)

	env := newCmdEnv(t, withAPIURL(fake.URL(), 5*time.Second))
	reply := env.commandTo(t, "search cyber", unrelated.URL+"/commands/1")
	if !strings.Contains(reply.Text, "Best matches for cyber") {
		t.Errorf("a quick answer with an unrelated response_url: %q, want it inline", reply.Text)
	}

	slow := newCmdEnv(t, withAPIURL(fake.URL(), 100*time.Millisecond))
	slow.archive.gate = make(chan struct{})
	reply = slow.commandTo(t, "search cyber", unrelated.URL+"/commands/2")
	host := strings.TrimPrefix(unrelated.URL, "http://")
	if !strings.Contains(reply.Text, "cannot follow later") || !strings.Contains(reply.Text, host) || !strings.Contains(reply.Text, "slack.api_url") {
		t.Errorf("a slow answer with an unrelated response_url: %q", reply.Text)
	}
	close(slow.archive.gate)
	// Close waits for the command still running, which then has its answer.
	slow.handler.Close()
	env.handler.Close()
	if slow.archive.calls.Load() != 1 {
		t.Errorf("the slow search ran %d times", slow.archive.calls.Load())
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("the unrelated host got %d requests", n)
	}
	if n := len(fake.Responses()); n != 0 {
		t.Errorf("the api_url host got %d answers meant for another host", n)
	}
}

func TestAllowResponseURLsFor(t *testing.T) {
	allow := AllowResponseURLsFor("https://slack-gov.com/api/")
	gateway := AllowResponseURLsFor("http://127.0.0.1:8080/api/")
	for _, tc := range []struct {
		check func(string) bool
		raw   string
		want  bool
	}{
		{func(s string) bool { return allow(mustURL(t, s)) }, "https://hooks.slack-gov.com/commands/T1/1/a", true},
		{func(s string) bool { return allow(mustURL(t, s)) }, "https://slack-gov.com/x", true},
		{func(s string) bool { return allow(mustURL(t, s)) }, "https://hooks.slack.com/commands/T1/1/a", true},
		{func(s string) bool { return allow(mustURL(t, s)) }, "http://hooks.slack-gov.com/c", false},
		{func(s string) bool { return allow(mustURL(t, s)) }, "https://evilslack-gov.com/c", false},
		{func(s string) bool { return allow(mustURL(t, s)) }, "https://slack-gov.com.evil.example/c", false},
		{func(s string) bool { return gateway(mustURL(t, s)) }, "http://127.0.0.1:8080/response/1", true},
		{func(s string) bool { return gateway(mustURL(t, s)) }, "http://127.0.0.1:9090/response/1", false},
		{func(s string) bool { return gateway(mustURL(t, s)) }, "https://127.0.0.1:8080/response/1", false},
		{func(s string) bool { return gateway(mustURL(t, s)) }, "http://u:p@127.0.0.1:8080/response/1", false},
		{func(s string) bool { return gateway(mustURL(t, s)) }, "http://evil.example/response/1", false},
	} {
		if got := tc.check(tc.raw); got != tc.want {
			t.Errorf("%s: allowed %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
