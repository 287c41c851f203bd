package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/slackfake"
)

const testToken = "xoxb-test-0000-secret"

func newSender(t *testing.T, f *slackfake.Fake, mod ...func(*Options)) *Sender {
	t.Helper()
	o := Options{
		Token:        testToken,
		APIURL:       f.URL(),
		Location:     brussels(t),
		HTTPClient:   &http.Client{Timeout: 5 * time.Second},
		PaceInterval: 50 * time.Millisecond,
		SettleDelay:  time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	return New(o)
}

func alertN(n int) policywire.Alert {
	a := fullAlert()
	a.ID = fmt.Sprintf("alert-%03d", n)
	a.Item.Title = fmt.Sprintf("Item %03d: Council conclusions on digital diplomacy", n)
	a.Item.URL = fmt.Sprintf("https://www.consilium.europa.eu/en/press/%03d", n)
	return a
}

func TestSendPostsWhatTheReaderSees(t *testing.T) {
	f := slackfake.New(t)
	f.RequireToken(testToken)
	s := newSender(t, f)
	a := fullAlert()

	ts, err := s.Send(context.Background(), "C0DIPLO", a)
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C0DIPLO")
	if len(posts) != 1 {
		t.Fatalf("%d posts, want 1", len(posts))
	}
	p := posts[0]
	if p.TS != ts {
		t.Errorf("Send returned ts %q, Slack has %q", ts, p.TS)
	}
	// The message as posted is the golden rendering.
	if *update {
		t.Skip("the golden file is written by TestRenderAlertGolden")
	}
	golden(t, "alert_full.golden.json", canonicalMessage(t, p.Blocks, p.Text))

	if p.Metadata == nil || p.Metadata.EventType != AlertEventType || p.Metadata.EventPayload["alert_id"] != a.ID {
		t.Errorf("metadata = %+v", p.Metadata)
	}
	for k, want := range map[string]string{"parse": "none", "link_names": "false", "unfurl_links": "false", "unfurl_media": "false"} {
		if got := p.Form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if s.Platform() != "slack" {
		t.Errorf("Platform() = %q", s.Platform())
	}
}

func TestSendRateLimitedHonoursRetryAfter(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	f.FailNext(1, http.StatusTooManyRequests, "7")

	_, err := s.Send(context.Background(), "C1", alertN(1))
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("err = %v, want RetryAfterError", err)
	}
	if ra.After != 7*time.Second {
		t.Errorf("After = %s, want 7s", ra.After)
	}
	if n := len(f.Posts("C1")); n != 0 {
		t.Errorf("%d posts after a 429", n)
	}

	// Until Retry-After has passed the channel is not tried again.
	calls := f.Calls("chat.postMessage")
	_, err = s.Send(context.Background(), "C1", alertN(2))
	if !errors.As(err, &ra) || ra.After <= 6*time.Second || ra.After > 7*time.Second {
		t.Fatalf("second send: err = %v, want RetryAfterError of about 7s", err)
	}
	if got := f.Calls("chat.postMessage"); got != calls {
		t.Errorf("rate-limited channel was called again (%d → %d calls)", calls, got)
	}
	// Other channels are not held back.
	if _, err := s.Send(context.Background(), "C2", alertN(3)); err != nil {
		t.Errorf("other channel: %v", err)
	}
}

// A Retry-After of days holds the channel back bot.MaxRetryAfter, not days.
func TestSendRetryAfterIsCapped(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	f.FailNext(1, http.StatusTooManyRequests, "86400000")
	_, err := s.Send(context.Background(), "C1", alertN(1))
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) || ra.After != bot.MaxRetryAfter {
		t.Fatalf("err = %v, want a RetryAfterError of %s", err, bot.MaxRetryAfter)
	}
	_, err = s.Send(context.Background(), "C1", alertN(2))
	if !errors.As(err, &ra) || ra.After > bot.MaxRetryAfter {
		t.Fatalf("second send: err = %v, want a wait of at most %s", err, bot.MaxRetryAfter)
	}
}

func TestSendServerErrorThenSuccess(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	f.FailNext(1, http.StatusInternalServerError, "")
	a := alertN(1)

	_, err := s.Send(context.Background(), "C1", a)
	if err == nil {
		t.Fatal("500 reported as success")
	}
	var ra *bot.RetryAfterError
	if bot.IsPermanent(err) || errors.As(err, &ra) {
		t.Fatalf("500 classified as %T: %v", err, err)
	}
	ts, err := s.Send(context.Background(), "C1", a)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	posts := f.Posts("C1")
	if len(posts) != 1 || posts[0].TS != ts {
		t.Fatalf("posts = %d, want exactly the retry's", len(posts))
	}
}

func TestSendPermanentErrors(t *testing.T) {
	for _, code := range []string{"channel_not_found", "not_in_channel", "is_archived", "msg_too_long"} {
		t.Run(code, func(t *testing.T) {
			f := slackfake.New(t)
			s := newSender(t, f)
			f.ChannelError("CGONE", code)
			_, err := s.Send(context.Background(), "CGONE", alertN(1))
			var pe *bot.PermanentError
			if !errors.As(err, &pe) || pe.Reason != code {
				t.Fatalf("err = %v, want PermanentError %s", err, code)
			}
			if !strings.Contains(err.Error(), "CGONE") {
				t.Errorf("error does not name the channel: %v", err)
			}
		})
	}
}

func TestSendBadTokenIsPermanentAndNotLeaked(t *testing.T) {
	f := slackfake.New(t)
	f.RequireToken("xoxb-the-right-one")
	s := newSender(t, f)
	_, err := s.Send(context.Background(), "C1", alertN(1))
	var pe *bot.PermanentError
	if !errors.As(err, &pe) || pe.Reason != "invalid_auth" {
		t.Fatalf("err = %v, want PermanentError invalid_auth", err)
	}
	if strings.Contains(err.Error(), testToken) {
		t.Errorf("error leaks the token: %v", err)
	}
}

func TestSendNetworkErrorIsRetriedNotPermanent(t *testing.T) {
	f := slackfake.New(t)
	url := f.URL()
	f.Close() // nothing listens any more: the dial fails, nothing was sent
	s := New(Options{Token: testToken, APIURL: url, PaceInterval: time.Millisecond, SettleDelay: time.Millisecond})
	_, err := s.Send(context.Background(), "C1", alertN(1))
	var ra *bot.RetryAfterError
	if err == nil || bot.IsPermanent(err) || errors.As(err, &ra) {
		t.Fatalf("err = %v, want a plain retryable error", err)
	}
	if s.isSuspect(marker{eventType: AlertEventType, payload: map[string]string{"alert_id": "alert-001"}}.key()) {
		t.Error("a failed dial was treated as a post that may have reached Slack")
	}
}

// TestSendAfterAmbiguousFailurePostsOnce covers failures after the request
// reached Slack: the post is recorded, the answer is lost.
func TestSendAfterAmbiguousFailurePostsOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault slackfake.Fault
	}{
		{"connection dropped", slackfake.Fault{Drop: true}},
		{"answer never comes", slackfake.Fault{Hang: true}},
		{"proxy 502 after posting", slackfake.Fault{Record: true, Status: http.StatusBadGateway}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := slackfake.New(t)
			s := newSender(t, f, func(o *Options) { o.HTTPClient = &http.Client{Timeout: 300 * time.Millisecond} })
			f.Script("chat.postMessage", tc.fault)
			a := alertN(1)

			ts, err := s.Send(context.Background(), "C1", a)
			if tc.fault.Status != 0 {
				// A 5xx is retried by the dispatcher; the retry finds the post.
				if err == nil {
					t.Fatal("502 reported as success")
				}
				ts, err = s.Send(context.Background(), "C1", a)
			}
			if err != nil {
				t.Fatal(err)
			}
			posts := f.Posts("C1")
			if len(posts) != 1 {
				t.Fatalf("%d posts, want exactly 1", len(posts))
			}
			if posts[0].TS != ts {
				t.Errorf("ts = %q, the post is %q", ts, posts[0].TS)
			}
			if n := f.Calls("conversations.history"); n != 1 {
				t.Errorf("%d history lookups, want 1", n)
			}
			// Once delivered, the next send of another alert posts directly.
			if _, err := s.Send(context.Background(), "C1", alertN(2)); err != nil {
				t.Fatal(err)
			}
			if n := f.Calls("conversations.history"); n != 1 {
				t.Errorf("history looked up again for a fresh alert (%d)", n)
			}
		})
	}
}

func TestSendAmbiguousFailureNotPostedRetriesOnce(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	f.Script("chat.postMessage", slackfake.Fault{DropBefore: true})
	ts, err := s.Send(context.Background(), "C1", alertN(1))
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C1")
	if len(posts) != 1 || posts[0].TS != ts {
		t.Fatalf("posts = %d, want 1 with the returned ts", len(posts))
	}
	if n := f.Calls("chat.postMessage"); n != 2 {
		t.Errorf("%d post calls, want 2 (lost one, then the retry)", n)
	}
}

func TestSendRemembersAmbiguousAttemptAcrossCalls(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	// The post lands but its answer is lost, and the history is down too.
	f.Script("chat.postMessage", slackfake.Fault{Drop: true})
	f.Script("conversations.history", slackfake.Fault{Status: http.StatusServiceUnavailable})
	a := alertN(1)
	if _, err := s.Send(context.Background(), "C1", a); err == nil {
		t.Fatal("want an error while the history is unavailable")
	}
	ts, err := s.Send(context.Background(), "C1", a)
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C1")
	if len(posts) != 1 || posts[0].TS != ts {
		t.Fatalf("%d posts, want the first one found again", len(posts))
	}
}

func TestSendCheckedAfterRestart(t *testing.T) {
	f := slackfake.New(t)
	before := newSender(t, f)
	a := alertN(1)
	ts, err := before.Send(context.Background(), "C1", a)
	if err != nil {
		t.Fatal(err)
	}
	// A new process does not know the post was made; the outbox row says
	// it was in flight, so the dispatcher uses SendChecked.
	after := newSender(t, f)
	got, err := after.SendChecked(context.Background(), "C1", a)
	if err != nil {
		t.Fatal(err)
	}
	if got != ts || len(f.Posts("C1")) != 1 {
		t.Fatalf("SendChecked = %q with %d posts; want %q and 1 post", got, len(f.Posts("C1")), ts)
	}
	// An alert that never reached Slack is posted.
	if _, err := after.SendChecked(context.Background(), "C1", alertN(2)); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Posts("C1")); n != 2 {
		t.Fatalf("%d posts, want 2", n)
	}
}

func TestSendCheckedFindsPostBeyondFirstHistoryPage(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f, func(o *Options) { o.PaceInterval = time.Microsecond })
	target := alertN(0)
	if _, err := s.Send(context.Background(), "C1", target); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= historyPageSize+10; i++ {
		if _, err := s.Send(context.Background(), "C1", alertN(i)); err != nil {
			t.Fatal(err)
		}
	}
	other := newSender(t, f)
	if _, err := other.SendChecked(context.Background(), "C1", target); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Posts("C1")); n != historyPageSize+11 {
		t.Fatalf("%d posts: the alert was posted again", n)
	}
	if n := f.Calls("conversations.history"); n != 2 {
		t.Errorf("%d history pages read, want 2", n)
	}
}

func TestSendHistoryWithoutScopeIsPermanent(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	f.Script("conversations.history", slackfake.Fault{Error: "missing_scope"})
	_, err := s.SendChecked(context.Background(), "C1", alertN(1))
	var pe *bot.PermanentError
	if !errors.As(err, &pe) || pe.Reason != "missing_scope" {
		t.Fatalf("err = %v, want PermanentError missing_scope", err)
	}
	if n := len(f.Posts("C1")); n != 0 {
		t.Errorf("posted %d without being able to check for a duplicate", n)
	}
}

func TestPacingPerChannel(t *testing.T) {
	f := slackfake.New(t)
	const pace = 400 * time.Millisecond
	s := newSender(t, f, func(o *Options) { o.PaceInterval = pace })
	ctx := context.Background()
	if _, err := s.Send(ctx, "CA", alertN(1)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, job := range []struct {
		ch string
		n  int
	}{{"CA", 2}, {"CB", 3}} {
		wg.Go(func() {
			if _, err := s.Send(ctx, job.ch, alertN(job.n)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	a, b := f.Posts("CA"), f.Posts("CB")
	if len(a) != 2 || len(b) != 1 {
		t.Fatalf("posts: CA %d, CB %d", len(a), len(b))
	}
	if gap := a[1].At.Sub(a[0].At); gap < pace*3/4 {
		t.Errorf("two posts to one channel %s apart, want about %s", gap, pace)
	}
	if !b[0].At.Before(a[1].At) {
		t.Errorf("the other channel waited for CA's slot (CB at %s, CA's second at %s)", b[0].At, a[1].At)
	}
}

func TestPacingWaitRespectsContext(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f, func(o *Options) { o.PaceInterval = time.Hour })
	if _, err := s.Send(context.Background(), "C1", alertN(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Send(ctx, "C1", alertN(2))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the wait ignored the context")
	}
	if n := len(f.Posts("C1")); n != 1 {
		t.Errorf("%d posts, want 1", n)
	}
}

func digestOf(n int) policywire.Digest {
	d := policywire.Digest{ID: "digest-2026-11-27", Channel: "diplomacy", Title: "Policy digest <!channel> — 27 Nov"}
	for i := range n {
		d.Alerts = append(d.Alerts, alertN(i))
	}
	return d
}

func TestSendDigestSplitsWithinSlackLimits(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f, func(o *Options) { o.PaceInterval = time.Millisecond })
	d := digestOf(120)
	refs, err := s.SendDigest(context.Background(), "C1", d)
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C1")
	if len(posts) < 3 || len(refs) != len(posts) {
		t.Fatalf("%d refs, %d posts; want ≥ 3 messages for 120 items", len(refs), len(posts))
	}
	next := 0
	for i, p := range posts {
		if refs[i] != p.TS {
			t.Errorf("ref %d = %q, post ts %q", i, refs[i], p.TS)
		}
		var blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Text string `json:"text"`
			} `json:"elements"`
		}
		if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
			t.Fatal(err)
		}
		if len(blocks) > 50 {
			t.Errorf("message %d has %d blocks", i, len(blocks))
		}
		for _, b := range blocks {
			if b.Text != nil {
				if utf16Len(b.Text.Text) > 3000 {
					t.Errorf("message %d: section of %d characters", i, utf16Len(b.Text.Text))
				}
				assertInert(t, "digest", b.Text.Text, fmt.Sprintf("https://www.consilium.europa.eu/en/press/%03d", next))
				if strings.HasPrefix(b.Text.Text, "• ") {
					want := fmt.Sprintf("• *<https://www.consilium.europa.eu/en/press/%03d|Item %03d:", next, next)
					if !strings.HasPrefix(b.Text.Text, want) {
						t.Fatalf("message %d: item out of order: %q, want %q…", i, b.Text.Text, want)
					}
					if !strings.Contains(b.Text.Text, "\nEuropean Commission – Press corner · 27 Nov 2026 14:05 CET") {
						t.Errorf("item without source and date: %q", b.Text.Text)
					}
					if !strings.HasSuffix(b.Text.Text, "\nAlso reported by: EEAS, consilium") {
						t.Errorf("item without the story's other sources: %q", b.Text.Text)
					}
					next++
				}
			}
		}
		md := p.Metadata
		if md == nil || md.EventType != DigestEventType || md.EventPayload["digest_id"] != d.ID ||
			md.EventPayload["part"] != fmt.Sprint(i+1) || md.EventPayload["parts"] != fmt.Sprint(len(posts)) {
			t.Errorf("message %d metadata = %+v", i, md)
		}
		if !strings.Contains(p.Text, fmt.Sprintf("(%d/%d)", i+1, len(posts))) {
			t.Errorf("message %d fallback = %q", i, p.Text)
		}
	}
	if next != 120 {
		t.Errorf("%d items listed, want 120", next)
	}
	first := posts[0]
	if got := blockText(t, first.Blocks, 0); got != "*Policy digest &lt;!channel&gt; — 27 Nov*" {
		t.Errorf("digest title = %q", got)
	}
}

func TestSendDigestRetryDoesNotRepeatPostedParts(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f, func(o *Options) { o.PaceInterval = time.Millisecond })
	d := digestOf(120)
	f.Script("chat.postMessage", slackfake.Fault{}, slackfake.Fault{Status: http.StatusInternalServerError})
	refs, err := s.SendDigest(context.Background(), "C1", d)
	if err == nil {
		t.Fatal("want the 500 of part 2")
	}
	if len(refs) != 1 {
		t.Fatalf("refs before the failure = %v, want the first part's", refs)
	}
	// The retry finds the first part by its metadata and does not repost it.
	refs, err = s.SendDigest(context.Background(), "C1", d)
	if err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("C1")
	if len(posts) != len(refs) {
		t.Fatalf("%d posts for %d parts: a part was posted twice", len(posts), len(refs))
	}
	for i, p := range posts {
		if refs[i] != p.TS {
			t.Errorf("ref %d = %q, post %q", i, refs[i], p.TS)
		}
	}
}

func TestSendNoticeIsEscaped(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	if err := s.SendNotice(context.Background(), "CADMIN", "Source ec-press failing: <!here> 503 & retrying"); err != nil {
		t.Fatal(err)
	}
	posts := f.Posts("CADMIN")
	if len(posts) != 1 {
		t.Fatalf("%d posts", len(posts))
	}
	want := "Source ec-press failing: &lt;!here&gt; 503 &amp; retrying"
	if posts[0].Text != want || blockText(t, posts[0].Blocks, 0) != want {
		t.Errorf("notice = %q / %s", posts[0].Text, posts[0].Blocks)
	}
}

func TestSendRejectsMissingIDs(t *testing.T) {
	f := slackfake.New(t)
	s := newSender(t, f)
	if _, err := s.Send(context.Background(), "C1", policywire.Alert{}); !bot.IsPermanent(err) {
		t.Errorf("alert without id: %v", err)
	}
	if _, err := s.Send(context.Background(), "", alertN(1)); !bot.IsPermanent(err) {
		t.Errorf("empty channel: %v", err)
	}
	if _, err := s.SendDigest(context.Background(), "C1", policywire.Digest{}); !bot.IsPermanent(err) {
		t.Errorf("digest without id: %v", err)
	}
	if n := f.Calls("chat.postMessage"); n != 0 {
		t.Errorf("%d calls to Slack", n)
	}
}

// blockText is the text of the i-th block of posted blocks JSON.
func blockText(t *testing.T, raw json.RawMessage, i int) string {
	t.Helper()
	var blocks []struct {
		Text struct {
			Text string `json:"text"`
		} `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil || i >= len(blocks) {
		t.Fatalf("blocks %s: %v", raw, err)
	}
	return blocks[i].Text.Text
}
