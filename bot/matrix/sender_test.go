package matrix

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/testenv"
)

func fullAlert() policywire.Alert {
	return policywire.Alert{
		ID:      "a1-cra-deal",
		Channel: "eu-desk",
		Item: policywire.Item{
			ID:        "u:https://www.consilium.europa.eu/en/press/press-releases/2026/11/27/cyber-resilience-act-deal/",
			Source:    "council-press",
			URL:       "https://www.consilium.europa.eu/en/press/press-releases/2026/11/27/cyber-resilience-act-deal/",
			Title:     "Cyber Resilience Act: Council and Parliament strike deal on security rules for digital products",
			Summary:   "The Council presidency and the European Parliament's negotiators reached a provisional agreement on the cyber resilience act, which sets cybersecurity requirements for products with digital elements.",
			Published: time.Date(2026, 11, 27, 13, 5, 0, 0, time.UTC),
			References: []string{
				"2022/0272(COD)",
				"COM(2022) 454 final",
			},
		},
		SourceName: "Council of the EU — Press releases",
		Topics:     []string{"cyber", "digital-single-market"},
		Also: []policywire.AlsoReported{
			{Source: "ec-press", SourceName: "European Commission — Press corner", URL: "https://ec.europa.eu/commission/presscorner/detail/en/ip_26_301"},
			{Source: "eeas-press", SourceName: "EEAS", URL: "https://www.eeas.europa.eu/eeas/cyber-resilience-act-statement_en"},
		},
	}
}

func plainAlert() policywire.Alert {
	return policywire.Alert{
		ID:      "a2-sanctions",
		Channel: "eu-desk",
		Item: policywire.Item{
			Source:    "eeas-press",
			URL:       "https://www.eeas.europa.eu/eeas/statement-high-representative-sanctions_en?s=1&lang=en",
			Title:     `Statement by the High Representative on "restrictive measures" & the 20th package`,
			Summary:   "The EU today adopted   its 20th package\nof sanctions.",
			Published: time.Date(2026, 7, 3, 8, 30, 0, 0, time.UTC),
		},
		SourceName: "EEAS press material",
	}
}

func TestSendAlertsAsReaderSeesThem(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)

	var ids []string
	for _, a := range []policywire.Alert{fullAlert(), plainAlert()} {
		evID, err := f.sender.Send(ctx, f.room, a)
		if err != nil {
			t.Fatalf("Send %s: %v", a.ID, err)
		}
		if !strings.HasPrefix(evID, "$") {
			t.Errorf("Send returned %q, want an event ID", evID)
		}
		ids = append(ids, evID)
	}

	got := f.botMessages(t)
	if len(got) != 2 {
		t.Fatalf("reader sees %d messages of the bot, want 2", len(got))
	}
	for i, name := range []string{"alert_full.json", "alert_plain.json"} {
		if got[i].ID.String() != ids[i] {
			t.Errorf("message %d is %s, want %s", i, got[i].ID, ids[i])
		}
		golden(t, name, contentJSON(t, got[i]))
	}
	c := rawContent(t, got[0])
	if c["msgtype"] != "m.notice" || c["format"] != "org.matrix.custom.html" {
		t.Errorf("msgtype %v format %v, want m.notice with HTML", c["msgtype"], c["format"])
	}
	body, _ := c["body"].(string)
	for _, want := range []string{"27 Nov 2026 14:05 CET", "Also reported by: European Commission — Press corner", "References: 2022/0272(COD)"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if body2, _ := rawContent(t, got[1])["body"].(string); !strings.Contains(body2, "3 Jul 2026 10:30 CEST") {
		t.Errorf("summer date not in CEST:\n%s", body2)
	}
}

func TestSendSameAlertTwiceGivesOneEvent(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	a := fullAlert()
	first, err := f.sender.Send(ctx, f.room, a)
	if err != nil {
		t.Fatalf("first Send: %v", err)
	}
	second, err := f.sender.Send(ctx, f.room, a)
	if err != nil {
		t.Fatalf("second Send: %v", err)
	}
	// A restarted bot with the same token: a new Sender.
	again, err := newSender(t, f.hs, f.botID, f.token).Send(ctx, f.room, a)
	if err != nil {
		t.Fatalf("Send from a new Sender: %v", err)
	}
	if second != first || again != first {
		t.Errorf("event IDs %s, %s, %s; want the same event each time", first, second, again)
	}
	if got := f.botMessages(t); len(got) != 1 {
		t.Errorf("reader sees %d messages for one alert sent three times, want 1", len(got))
	}
}

func TestSendCheckedFindsEarlierCopyUnderANewToken(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	a := fullAlert()
	first, err := f.sender.Send(ctx, f.room, a)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	// A new login has its own transaction scope, so only the history check
	// can tell the alert was posted.
	relogged := newSender(t, f.hs, f.botID, f.hs.Login(t, f.bot))
	got, err := relogged.SendChecked(ctx, f.room, a)
	if err != nil {
		t.Fatalf("SendChecked: %v", err)
	}
	if got != first {
		t.Errorf("SendChecked = %s, want the earlier event %s", got, first)
	}
	other := plainAlert()
	posted, err := relogged.SendChecked(ctx, f.room, other)
	if err != nil {
		t.Fatalf("SendChecked of a new alert: %v", err)
	}
	msgs := f.botMessages(t)
	if len(msgs) != 2 || msgs[0].ID.String() != first || msgs[1].ID.String() != posted {
		t.Errorf("reader sees %d messages, want the first alert once and the new one", len(msgs))
	}
}

func TestInjectedMarkupAndMentionsAreInert(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	a := policywire.Alert{
		ID: "a3-injection",
		Item: policywire.Item{
			Source:    "evil-feed",
			URL:       "javascript:alert(document.cookie)",
			Title:     `@room <script>alert(1)</script> <a href="javascript:x">click</a> <!channel> @ROOM`,
			Summary:   "Hello \u202eevil\u202c \u200bhidden\u2066 <img src=x onerror=alert(1)> @room",
			Published: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC),
			References: []string{
				"<b>2023/0212(COD)</b>",
			},
		},
		SourceName: `Evil <i>feed</i>`,
		Topics:     []string{"<script>x</script>"},
		Also: []policywire.AlsoReported{
			{SourceName: "Trap", URL: "javascript:alert(2)"},
			{SourceName: `"><script>`, URL: `https://example.org/"><script>alert(3)</script>`},
		},
	}
	if _, err := f.sender.Send(ctx, f.room, a); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := f.botMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("reader sees %d messages, want 1", len(msgs))
	}
	c := rawContent(t, msgs[0])
	golden(t, "alert_injection.json", contentJSON(t, msgs[0]))

	mentions, ok := c["m.mentions"].(map[string]any)
	if !ok || len(mentions) != 0 {
		t.Errorf("m.mentions = %#v, want an empty object", c["m.mentions"])
	}
	body, _ := c["body"].(string)
	formatted, _ := c["formatted_body"].(string)
	for _, s := range []string{body, formatted} {
		if strings.Contains(strings.ToLower(s), "@room") {
			t.Errorf("@room survives in %q", s)
		}
		for _, r := range []rune{'\u202e', '\u202c', '\u200b', '\u2066'} {
			if strings.ContainsRune(s, r) {
				t.Errorf("invisible character %U survives in %q", r, s)
			}
		}
	}
	if strings.Contains(formatted, "<script") || strings.Contains(formatted, "<img") || !strings.Contains(formatted, "&lt;script&gt;") {
		t.Errorf("markup of the feed is not escaped in %q", formatted)
	}
	checkHTMLInert(t, formatted)
}

// checkHTMLInert parses formatted HTML as a client would and fails on any
// element outside the allowed set, any attribute but href, and any href
// that is not http(s).
func checkHTMLInert(t *testing.T, formatted string) {
	t.Helper()
	allowed := map[string]bool{"a": true, "br": true, "p": true, "b": true, "strong": true, "em": true, "i": true, "ul": true, "li": true, "code": true, "blockquote": true}
	z := html.NewTokenizer(strings.NewReader(formatted))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowed[tok.Data] {
			t.Errorf("element <%s> in %q", tok.Data, formatted)
		}
		for _, attr := range tok.Attr {
			if attr.Key != "href" || tok.Data != "a" {
				t.Errorf("attribute %s on <%s> in %q", attr.Key, tok.Data, formatted)
				continue
			}
			if !strings.HasPrefix(attr.Val, "https://") && !strings.HasPrefix(attr.Val, "http://") {
				t.Errorf("href %q in %q", attr.Val, formatted)
			}
		}
	}
}

func TestBadTokenIsPermanent(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	bad := newSender(t, f.hs, f.botID, "not-a-valid-token")

	err := bad.Whoami(ctx)
	var perm *bot.PermanentError
	if !errors.As(err, &perm) || perm.Reason != "matrix: access token rejected (M_UNKNOWN_TOKEN)" {
		t.Fatalf("Whoami with a bad token: %v, want PermanentError \"matrix: access token rejected (M_UNKNOWN_TOKEN)\"", err)
	}
	if strings.Contains(err.Error(), "not-a-valid-token") {
		t.Errorf("error shows the token: %v", err)
	}
	_, err = bad.Send(ctx, f.room, fullAlert())
	if !errors.As(err, &perm) || perm.Reason != "matrix: access token rejected (M_UNKNOWN_TOKEN)" {
		t.Errorf("Send with a bad token: %v, want the same PermanentError", err)
	}

	if err := f.sender.Whoami(ctx); err != nil {
		t.Errorf("Whoami with the good token: %v", err)
	}
	// Another account's token under the bot's user ID.
	otherID, otherToken := f.hs.Register(t, uniqueLocalpart(t, "other"), false)
	mixed := newSender(t, f.hs, f.botID, otherToken)
	err = mixed.Whoami(ctx)
	if !bot.IsPermanent(err) || !strings.Contains(err.Error(), otherID) {
		t.Errorf("Whoami with another user's token: %v, want a PermanentError naming %s", err, otherID)
	}
}

func TestJoinRoomsNotInvitedIsPermanentAndNamesTheRoom(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	closed, err := f.reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat"})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}
	invited, err := f.reader.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat", Invite: []id.UserID{id.UserID(f.botID)}})
	if err != nil {
		t.Fatalf("create room: %v", err)
	}

	err = f.sender.JoinRooms(ctx, []string{f.room, closed.RoomID.String(), invited.RoomID.String()})
	if !bot.IsPermanent(err) {
		t.Fatalf("JoinRooms with a room the bot is not invited to: %v, want a PermanentError", err)
	}
	if !strings.Contains(err.Error(), closed.RoomID.String()) || !errors.Is(err, mautrix.MForbidden) {
		t.Errorf("error %q does not name room %s with M_FORBIDDEN", err, closed.RoomID)
	}
	if strings.Contains(err.Error(), invited.RoomID.String()) || strings.Contains(err.Error(), f.room) {
		t.Errorf("error %q names a room that could be joined", err)
	}
	// The invited room was joined despite the failure before it.
	if _, err := f.sender.Send(ctx, invited.RoomID.String(), plainAlert()); err != nil {
		t.Errorf("Send to the invited room after JoinRooms: %v", err)
	}
	// Sending where the bot is not a member is refused for good.
	_, err = f.sender.Send(ctx, closed.RoomID.String(), plainAlert())
	if !bot.IsPermanent(err) || !strings.Contains(err.Error(), closed.RoomID.String()) {
		t.Errorf("Send to a room the bot is not in: %v, want a PermanentError naming the room", err)
	}

	err = f.sender.JoinRooms(ctx, []string{"#alias:localhost", "!unknownroom:localhost"})
	if !bot.IsPermanent(err) || !strings.Contains(err.Error(), "#alias:localhost") || !strings.Contains(err.Error(), "!unknownroom:localhost") {
		t.Errorf("JoinRooms with an alias and an unknown room: %v, want PermanentErrors naming both", err)
	}
}

func TestSendDigestSplitsAndKeepsEveryItemOnce(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	d := policywire.Digest{ID: "digest-eu-desk-2026-11-27", Channel: "eu-desk", Title: "Policy digest, 27 Nov 2026"}
	for i := range 150 {
		d.Alerts = append(d.Alerts, policywire.Alert{
			ID: fmt.Sprintf("d-%d", i),
			Item: policywire.Item{
				Source:    "ec-press",
				URL:       fmt.Sprintf("https://ec.europa.eu/commission/presscorner/detail/en/ip_26_%d", 1000+i),
				Title:     fmt.Sprintf("Item %03d: Commission proposes measures on a topic of some length to fill the line", i),
				Published: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute),
			},
			SourceName: "European Commission",
		})
	}
	ids, err := f.sender.SendDigest(ctx, f.room, d)
	if err != nil {
		t.Fatalf("SendDigest: %v", err)
	}
	if len(ids) < 2 {
		t.Fatalf("150 items went into %d events, want more than one", len(ids))
	}
	again, err := f.sender.SendDigest(ctx, f.room, d)
	if err != nil {
		t.Fatalf("SendDigest again: %v", err)
	}
	if strings.Join(again, ",") != strings.Join(ids, ",") {
		t.Errorf("a repeated digest gave events %v, want the same %v", again, ids)
	}

	msgs := f.botMessages(t)
	if len(msgs) != len(ids) {
		t.Fatalf("reader sees %d messages, want %d", len(msgs), len(ids))
	}
	var body, formatted strings.Builder
	for i, ev := range msgs {
		if ev.ID.String() != ids[i] {
			t.Errorf("message %d is %s, want %s", i, ev.ID, ids[i])
		}
		if n := len(ev.Content.VeryRaw); n > maxDigestEventBytes {
			t.Errorf("part %d has %d bytes of content, over %d", i, n, maxDigestEventBytes)
		}
		c := rawContent(t, ev)
		b, _ := c["body"].(string)
		h, _ := c["formatted_body"].(string)
		if n := strings.Count(h, "<li>"); n > maxDigestItems || n == 0 {
			t.Errorf("part %d has %d items", i, n)
		}
		if want := fmt.Sprintf("(%d/%d)", i+1, len(ids)); !strings.HasPrefix(b, d.Title+" "+want) {
			t.Errorf("part %d starts %q, want the title and %s", i, firstLine(b), want)
		}
		checkHTMLInert(t, h)
		body.WriteString(b)
		formatted.WriteString(h)
	}
	for i := range 150 {
		title := fmt.Sprintf("Item %03d:", i)
		if n := strings.Count(body.String(), title); n != 1 {
			t.Errorf("%q appears %d times in the bodies, want once", title, n)
		}
		link := fmt.Sprintf(`href="https://ec.europa.eu/commission/presscorner/detail/en/ip_26_%d"`, 1000+i)
		if n := strings.Count(formatted.String(), link); n != 1 {
			t.Errorf("link of item %d appears %d times, want once", i, n)
		}
	}
	if !strings.Contains(body.String(), "Item 000: Commission proposes measures on a topic of some length to fill the line — European Commission · 26 Nov 2026 09:00 CET") {
		t.Errorf("first item line not as expected:\n%s", firstLine(strings.SplitN(body.String(), "\n", 2)[1]))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func TestSendNoticeIsPlainAndPingsNobody(t *testing.T) {
	f := setupRoom(t)
	ctx := testContext(t)
	if err := f.sender.SendNotice(ctx, f.room, "Source council-press failing since 09:00: HTTP 503\n@room please check"); err != nil {
		t.Fatalf("SendNotice: %v", err)
	}
	msgs := f.botMessages(t)
	if len(msgs) != 1 {
		t.Fatalf("reader sees %d messages, want 1", len(msgs))
	}
	c := rawContent(t, msgs[0])
	want := "Source council-press failing since 09:00: HTTP 503\n@ room please check"
	if c["msgtype"] != "m.notice" || c["body"] != want {
		t.Errorf("notice content %v, want m.notice with body %q", c, want)
	}
	if m, ok := c["m.mentions"].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("m.mentions = %#v, want {}", c["m.mentions"])
	}
}

func TestRateLimitIsRetryAfter(t *testing.T) {
	hs := testenv.StartDendrite(t, testenv.WithRateLimit(1, 45_000))
	ctx := testContext(t)
	botID, token := hs.Register(t, "ratebot", false)
	s := newSender(t, hs, botID, token)
	// Whoami takes the one request allowed per 45 s; the join that follows
	// is over the limit.
	if err := s.Whoami(ctx); err != nil {
		t.Fatalf("Whoami: %v", err)
	}
	start := time.Now()
	err := s.JoinRooms(ctx, []string{"!somewhere:localhost"})
	var ra *bot.RetryAfterError
	if !errors.As(err, &ra) {
		t.Fatalf("JoinRooms over the rate limit: %v, want a RetryAfterError", err)
	}
	if ra.After != 45*time.Second {
		t.Errorf("After = %s, want the server's 45s", ra.After)
	}
	if !errors.Is(err, mautrix.MLimitExceeded) {
		t.Errorf("error %v does not wrap M_LIMIT_EXCEEDED", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("JoinRooms took %s: the client must not wait out rate limits itself", el)
	}
}

// TestErrorClassesFromAnHTTPServer covers answers dendrite does not give on
// /send: a 429 with only a Retry-After header, gateway errors and
// connection failures.
func TestErrorClassesFromAnHTTPServer(t *testing.T) {
	var status int
	var header, body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if header != "" {
			w.Header().Set("Retry-After", header)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	s, err := New(Options{Homeserver: srv.URL, UserID: "@bot:example.org", AccessToken: "secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	room := "!room:example.org"

	cases := []struct {
		name         string
		status       int
		header, body string
		check        func(t *testing.T, err error)
	}{
		{"429 with Retry-After seconds", 429, "7", `{}`, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			if !errors.As(err, &ra) || ra.After != 7*time.Second {
				t.Errorf("err = %v, want RetryAfterError of 7s", err)
			}
		}},
		{"429 with retry_after_ms", 429, "", `{"errcode":"M_LIMIT_EXCEEDED","error":"slow down","retry_after_ms":1500}`, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			if !errors.As(err, &ra) || ra.After != 1500*time.Millisecond {
				t.Errorf("err = %v, want RetryAfterError of 1.5s", err)
			}
		}},
		{"429 with nothing", 429, "", ``, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			if !errors.As(err, &ra) || ra.After != defaultRetryAfter {
				t.Errorf("err = %v, want RetryAfterError of %s", err, defaultRetryAfter)
			}
		}},
		{"502 is retried", 502, "", `<html>bad gateway</html>`, func(t *testing.T, err error) {
			var ra *bot.RetryAfterError
			if err == nil || bot.IsPermanent(err) || errors.As(err, &ra) {
				t.Errorf("err = %v, want a plain error", err)
			}
		}},
		{"403 is permanent", 403, "", `{"errcode":"M_FORBIDDEN","error":"not in room"}`, func(t *testing.T, err error) {
			var perm *bot.PermanentError
			if !errors.As(err, &perm) || perm.Reason != "matrix: cannot send to room "+room+" (M_FORBIDDEN)" {
				t.Errorf("err = %v, want PermanentError naming the room", err)
			}
		}},
		{"404 unknown room is permanent", 404, "", `{"errcode":"M_NOT_FOUND","error":"no room"}`, func(t *testing.T, err error) {
			if !bot.IsPermanent(err) || !strings.Contains(err.Error(), room) {
				t.Errorf("err = %v, want PermanentError naming the room", err)
			}
		}},
		{"missing token", 401, "", `{"errcode":"M_MISSING_TOKEN","error":"no token"}`, func(t *testing.T, err error) {
			var perm *bot.PermanentError
			if !errors.As(err, &perm) || perm.Reason != "matrix: access token missing (M_MISSING_TOKEN)" {
				t.Errorf("err = %v, want PermanentError about the token", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body = tc.status, tc.header, tc.body
			start := time.Now()
			_, err := s.Send(ctx, room, plainAlert())
			tc.check(t, err)
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("Send took %s: the client must not retry or sleep by itself", el)
			}
			if err != nil && strings.Contains(err.Error(), "secret-token") {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}

	srv.Close()
	_, err = s.Send(ctx, room, plainAlert())
	if err == nil || bot.IsPermanent(err) || !strings.HasPrefix(err.Error(), "matrix: send to room "+room) {
		t.Errorf("Send to a closed server: %v, want a plain error naming the room", err)
	}
}
