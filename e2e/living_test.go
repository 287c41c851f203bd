package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/policywire/policywire/internal/e2eharness"
	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// Living alerts: a delivered alert is edited when its story gains a
// source or its item changes, and follow-ups of one policy file go into
// the thread of its first alert.

const (
	storyTitle   = "Digital diplomacy: Council approves conclusions on a network of EU tech envoys"
	councilLink  = "https://www.consilium.europa.eu/en/press/press-releases/2026/11/25/tech-envoys/"
	eeasLink     = "https://www.eeas.europa.eu/eeas/tech-envoys_en"
	livingSlack  = "C0LIVING"
	procedureRef = "2023/0212(COD)"
)

// livingFeeds serves a Council and an EEAS feed whose items a test sets
// between runs.
type livingFeeds struct {
	fx    *testenv.FixtureServer
	mu    sync.Mutex
	items map[string][]e2eharness.FeedItem
}

func newLivingFeeds(t *testing.T) *livingFeeds {
	f := &livingFeeds{fx: testenv.NewFixtureServer(t), items: map[string][]e2eharness.FeedItem{}}
	f.set("council-press")
	f.set("eeas-press")
	return f
}

// set makes the feed of src serve exactly items.
func (f *livingFeeds) set(src string, items ...e2eharness.FeedItem) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[src] = items
	f.fx.Set("/"+src+".rss", e2eharness.RSS(src, f.fx.URL, items), e2eharness.RSSContentType)
}

func (f *livingFeeds) sources(schedule string) []source {
	return []source{
		{id: "council-press", url: f.fx.URL + "/council-press.rss", schedule: schedule},
		{id: "eeas-press", url: f.fx.URL + "/eeas-press.rss", schedule: schedule},
	}
}

func councilStory(title string) e2eharness.FeedItem {
	return e2eharness.FeedItem{Title: title, Link: councilLink, Description: "The Council called for a network of EU tech envoys in the main technology hubs.", Published: recent()}
}

func eeasStory() e2eharness.FeedItem {
	return e2eharness.FeedItem{Title: storyTitle, Link: eeasLink, Description: "The EU will appoint tech envoys.", Published: recent().Add(time.Minute)}
}

// fileItem is the n-th item of one legislative file, its procedure named
// in the text.
func fileItem(n int, title string) e2eharness.FeedItem {
	return e2eharness.FeedItem{
		Title:       title,
		Link:        "https://www.consilium.europa.eu/en/press/digital-euro/" + string(rune('a'+n)),
		Description: "On the digital euro, procedure " + procedureRef + ", the next step was taken.",
		Published:   recent().Add(time.Duration(n) * time.Minute),
	}
}

func runOnce(t *testing.T, env *e2eharness.Env) e2eharness.Result {
	t.Helper()
	r := env.Run(90*time.Second, "run", "--once")
	if r.Code != 0 {
		t.Fatalf("run --once failed\n%s", r)
	}
	return r
}

// nothingWaiting fails when a channel has rows pending or parked.
func nothingWaiting(t *testing.T, env *e2eharness.Env) {
	t.Helper()
	for _, c := range env.Sources().Channels {
		if c.Pending != 0 || c.Parked != 0 {
			t.Errorf("channel %s has %d pending, %d parked", c.ID, c.Pending, c.Parked)
		}
	}
}

func slackContent(p slackfake.Post) string { return p.Text + string(p.Blocks) }

// topLevel are the posts of a channel that are not thread replies.
func topLevel(posts []slackfake.Post) []slackfake.Post {
	var out []slackfake.Post
	for _, p := range posts {
		if p.ThreadTS == "" {
			out = append(out, p)
		}
	}
	return out
}

// TestSlackStoryGainsSourceIsOneEditedMessage: the Council posts a story;
// at the next poll the EEAS publishes it too: the channel still has one
// message, edited once to name both sources. A title correction edits it
// once more; a change of white space or tracking parameters does not.
func TestSlackStoryGainsSourceIsOneEditedMessage(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	feeds := newLivingFeeds(t)
	env := newEnv(t)
	env.WriteConfig(setup{dataDir: env.DataDir(), slackURL: sl.URL(), sources: feeds.sources(""),
		channels: []channel{{id: "eu-desk", slack: livingSlack}}}.yaml())

	feeds.set("council-press", councilStory(storyTitle))
	runOnce(t, env)
	posts := sl.Posts(livingSlack)
	if len(posts) != 1 {
		t.Fatalf("%d posts after the Council's story, want 1", len(posts))
	}
	ts := posts[0].TS

	feeds.set("eeas-press", eeasStory())
	runOnce(t, env)
	posts = sl.Posts(livingSlack)
	if len(posts) != 1 {
		t.Fatalf("%d posts after the EEAS published the story, want still 1", len(posts))
	}
	msg, _ := sl.Message(livingSlack, ts)
	if msg.Edits != 1 {
		t.Fatalf("message edited %d times, want once", msg.Edits)
	}
	if c := slackContent(msg); !strings.Contains(c, "Also reported by") || !strings.Contains(c, "eeas-press") || !strings.Contains(c, "Updated ") {
		t.Errorf("edited message does not name the EEAS and the update: %s", c)
	}
	if msg.Metadata == nil || msg.Metadata.EventType != "policywire_alert" {
		t.Errorf("edited message lost its metadata: %+v", msg.Metadata)
	}
	if n := sl.Calls("chat.update"); n != 1 {
		t.Errorf("%d chat.update calls, want 1", n)
	}

	// Only white space and tracking parameters change: no edit.
	noisy := councilStory("Digital diplomacy:  Council approves conclusions on a network of EU tech envoys ")
	noisy.Link = councilLink + "?utm_source=rss&utm_medium=feed"
	feeds.set("council-press", noisy)
	runOnce(t, env)
	if msg, _ := sl.Message(livingSlack, ts); msg.Edits != 1 {
		t.Fatalf("white space and tracking parameters edited the message (%d edits)", msg.Edits)
	}

	corrected := "Digital diplomacy: Council approves conclusions on a network of EU technology envoys"
	feeds.set("council-press", councilStory(corrected))
	runOnce(t, env)
	msg, _ = sl.Message(livingSlack, ts)
	if msg.Edits != 2 || !strings.Contains(slackContent(msg), corrected) || !strings.Contains(slackContent(msg), "new title") {
		t.Fatalf("after a title correction: %d edits, content %s", msg.Edits, slackContent(msg))
	}
	if !strings.Contains(slackContent(msg), "eeas-press") {
		t.Errorf("the correction dropped the EEAS from the message: %s", slackContent(msg))
	}
	if n := len(sl.Posts(livingSlack)); n != 1 {
		t.Errorf("%d posts in the end, want 1", n)
	}
}

// replaces reads, as the reader, the m.replace edits of an event.
func (m *matrixRoom) replaces(t *testing.T, original id.EventID) []*event.Event {
	t.Helper()
	m.settle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := m.reader.GetRelations(ctx, m.room, original, &mautrix.ReqGetRelations{RelationType: event.RelReplace, Limit: 50})
	if err != nil {
		t.Fatalf("reader reads the relations of %s: %v", original, err)
	}
	return resp.Chunk
}

// alerts are the bot's messages that are not edits.
func alerts(ns []notice) []notice {
	var out []notice
	for _, n := range ns {
		if rel, _ := n.ev.Content.Raw["m.relates_to"].(map[string]any); rel["rel_type"] == "m.replace" {
			continue
		}
		out = append(out, n)
	}
	return out
}

func newContentBody(ev *event.Event) string {
	nc, _ := ev.Content.Raw["m.new_content"].(map[string]any)
	body, _ := nc["body"].(string)
	return body
}

// matrixOnlyEnv is an installation with the living feeds as sources and
// one room as its channel.
func matrixOnlyEnv(t *testing.T) (*matrixRoom, *livingFeeds, *e2eharness.Env) {
	t.Helper()
	mx := newMatrixRoom(t)
	feeds := newLivingFeeds(t)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{dataDir: env.DataDir(), matrixURL: mx.hs.URL, matrixUser: mx.botUser, sources: feeds.sources(""),
		channels: []channel{{id: "room", matrix: string(mx.room)}}}.yaml())
	return mx, feeds, env
}

// TestMatrixStoryGainsSourceIsOneEditedMessage: as on Slack, the story the
// EEAS publishes after the Council is one message, edited once with an
// m.replace that the reader reads back through /relations; a title
// correction adds exactly one edit, white space and tracking parameters
// none.
func TestMatrixStoryGainsSourceIsOneEditedMessage(t *testing.T) {
	t.Parallel()
	mx, feeds, env := matrixOnlyEnv(t)

	feeds.set("council-press", councilStory(storyTitle))
	runOnce(t, env)
	got := alerts(mx.botMessages(t))
	if len(got) != 1 {
		t.Fatalf("%d alerts after the Council's story, want 1", len(got))
	}
	original := got[0].ev.ID

	feeds.set("eeas-press", eeasStory())
	runOnce(t, env)
	if got := alerts(mx.botMessages(t)); len(got) != 1 {
		t.Fatalf("%d alerts after the EEAS published the story, want still 1", len(got))
	}
	edits := mx.replaces(t, original)
	if len(edits) != 1 {
		t.Fatalf("%d m.replace edits, want 1", len(edits))
	}
	e := edits[0].Content.Raw
	if body, _ := e["body"].(string); !strings.HasPrefix(body, "* ") {
		t.Errorf("edit fallback body %q does not start with \"* \"", body)
	}
	if b := newContentBody(edits[0]); !strings.Contains(b, "Also reported by: eeas-press") || !strings.Contains(b, "Updated ") {
		t.Errorf("new content does not name the EEAS and the update: %q", b)
	}
	if mentions, ok := e["m.mentions"].(map[string]any); !ok || len(mentions) != 0 {
		t.Errorf("edit mentions %v, want none", e["m.mentions"])
	}

	noisy := councilStory("Digital diplomacy:  Council approves conclusions on a network of EU tech envoys ")
	noisy.Link = councilLink + "?utm_source=rss"
	feeds.set("council-press", noisy)
	runOnce(t, env)
	if n := len(mx.replaces(t, original)); n != 1 {
		t.Fatalf("white space and tracking parameters made %d edits in all, want still 1", n)
	}

	corrected := "Digital diplomacy: Council approves conclusions on a network of EU technology envoys"
	feeds.set("council-press", councilStory(corrected))
	runOnce(t, env)
	edits = mx.replaces(t, original)
	if len(edits) != 2 {
		t.Fatalf("%d edits after a title correction, want 2", len(edits))
	}
	bodies := newContentBody(edits[0]) + newContentBody(edits[1])
	if !strings.Contains(bodies, corrected) {
		t.Errorf("no edit shows the corrected title: %q", bodies)
	}
	if n := len(alerts(mx.botMessages(t))); n != 1 {
		t.Errorf("%d alerts in the end, want 1", n)
	}
}

// TestFollowUpsOfOneFileAreOneThread: three items over three polls share
// the procedure 2023/0212(COD): one root alert and two replies in its
// thread, on Slack and on Matrix; a channel with follow_ups: channel gets
// three alerts.
func TestFollowUpsOfOneFileAreOneThread(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	mx := newMatrixRoom(t)
	feeds := newLivingFeeds(t)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	const flat = "C0FLAT"
	env.WriteConfig(setup{dataDir: env.DataDir(), slackURL: sl.URL(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources: feeds.sources(""),
		channels: []channel{
			{id: "eu-desk", slack: livingSlack},
			{id: "flat-desk", slack: flat, followUps: "channel"},
			{id: "room", matrix: string(mx.room)},
		}}.yaml())

	var items []e2eharness.FeedItem
	for i, title := range []string{
		"Commission proposes a regulation on the digital euro",
		"Parliament committee adopts its report on the euro in digital form",
		"Council and Parliament strike a provisional deal on central bank money",
	} {
		items = append(items, fileItem(i, title))
		feeds.set("council-press", items...)
		runOnce(t, env)
	}

	posts := sl.Posts(livingSlack)
	if len(posts) != 3 {
		t.Fatalf("%d Slack posts, want 3", len(posts))
	}
	root := posts[0]
	if root.ThreadTS != "" {
		t.Errorf("the first alert is a reply in %s", root.ThreadTS)
	}
	for i, p := range posts[1:] {
		if p.ThreadTS != root.TS || p.Broadcast {
			t.Errorf("Slack follow-up %d: thread %q broadcast %v, want a reply in %s", i+1, p.ThreadTS, p.Broadcast, root.TS)
		}
	}
	if n := len(sl.Replies(livingSlack, root.TS)); n != 2 {
		t.Errorf("%d replies in the thread, want 2", n)
	}
	flatPosts := sl.Posts(flat)
	if len(flatPosts) != 3 || len(topLevel(flatPosts)) != 3 {
		t.Errorf("follow_ups: channel got %d posts, %d in the channel; want 3 and 3", len(flatPosts), len(topLevel(flatPosts)))
	}

	got := alerts(mx.botMessages(t))
	if len(got) != 3 {
		t.Fatalf("%d Matrix alerts, want 3", len(got))
	}
	if rel := got[0].ev.Content.Raw["m.relates_to"]; rel != nil {
		t.Errorf("the first Matrix alert relates to %v", rel)
	}
	for i, n := range got[1:] {
		rel, _ := n.ev.Content.Raw["m.relates_to"].(map[string]any)
		reply, _ := rel["m.in_reply_to"].(map[string]any)
		if rel["rel_type"] != "m.thread" || rel["event_id"] != got[0].ev.ID.String() || reply["event_id"] != got[0].ev.ID.String() {
			t.Errorf("Matrix follow-up %d relates %v, want an m.thread reply to %s", i+1, rel, got[0].ev.ID)
		}
	}
}

// TestDeletedOriginalDropsTheEditOnce: the first alert of a file is
// deleted in Slack and redacted in Matrix; when the story gains a source,
// the edit is dropped with one log line per channel, and the next
// follow-up of the file starts a new thread; the run succeeds.
func TestDeletedOriginalDropsTheEditOnce(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	mx := newMatrixRoom(t)
	feeds := newLivingFeeds(t)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{dataDir: env.DataDir(), slackURL: sl.URL(), matrixURL: mx.hs.URL, matrixUser: mx.botUser,
		sources:  feeds.sources(""),
		channels: []channel{{id: "eu-desk", slack: livingSlack}, {id: "room", matrix: string(mx.room)}}}.yaml())

	first := councilStory(storyTitle)
	first.Description += " It concerns procedure " + procedureRef + "."
	feeds.set("council-press", first)
	runOnce(t, env)
	posts := sl.Posts(livingSlack)
	got := alerts(mx.botMessages(t))
	if len(posts) != 1 || len(got) != 1 {
		t.Fatalf("%d Slack posts, %d Matrix alerts; want 1 and 1", len(posts), len(got))
	}
	if !sl.Delete(livingSlack, posts[0].TS) {
		t.Fatal("the fake does not know the posted message")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := mx.reader.RedactEvent(ctx, mx.room, got[0].ev.ID); err != nil {
		t.Fatalf("reader redacts the alert: %v", err)
	}

	// The EEAS joins the story: the edits of the gone messages are dropped.
	feeds.set("eeas-press", eeasStory())
	r := runOnce(t, env)
	if n := strings.Count(r.Stderr, "original message gone; update dropped"); n != 2 {
		t.Errorf("the dropped edits were logged %d times, want once per channel (2)\n%s", n, r.Stderr)
	}
	if msg, _ := sl.Message(livingSlack, posts[0].TS); msg.Edits != 0 {
		t.Errorf("the deleted message was edited %d times", msg.Edits)
	}
	if n := len(mx.replaces(t, got[0].ev.ID)); n != 0 {
		t.Errorf("the redacted alert got %d edits", n)
	}
	nothingWaiting(t, env)

	// The next follow-up of the file starts a thread of its own, which
	// the one after it goes into.
	follow := []e2eharness.FeedItem{first, fileItem(1, "Parliament committee adopts its report on the euro in digital form")}
	feeds.set("council-press", follow...)
	runOnce(t, env)
	posts = sl.Posts(livingSlack)
	if len(posts) != 2 || posts[1].ThreadTS != "" {
		t.Fatalf("Slack: %d posts, the follow-up in thread %q; want 2, the follow-up in the channel", len(posts), posts[len(posts)-1].ThreadTS)
	}
	got = alerts(mx.botMessages(t))
	if len(got) != 2 || got[1].ev.Content.Raw["m.relates_to"] != nil {
		t.Fatalf("Matrix: %d alerts, the follow-up relating to %v; want 2, the follow-up on its own", len(got), got[len(got)-1].ev.Content.Raw["m.relates_to"])
	}
	feeds.set("council-press", append(follow, fileItem(2, "Council and Parliament strike a provisional deal on central bank money"))...)
	runOnce(t, env)
	posts = sl.Posts(livingSlack)
	if len(posts) != 3 || posts[2].ThreadTS != posts[1].TS {
		t.Errorf("Slack: the next follow-up is in thread %q, want the new thread %s", posts[len(posts)-1].ThreadTS, posts[1].TS)
	}
	got = alerts(mx.botMessages(t))
	if rel, _ := got[len(got)-1].ev.Content.Raw["m.relates_to"].(map[string]any); len(got) != 3 || rel["event_id"] != got[1].ev.ID.String() {
		t.Errorf("Matrix: the next follow-up relates to %v, want the new thread %s", rel, got[1].ev.ID)
	}
}

// TestEditSurvivesSIGKILLBetweenSendAndRecord: the edit of a story that
// gained a source reaches Slack and Matrix, but the daemon is killed
// before their answers come back; after a restart Matrix shows exactly
// one edit (the same transaction id) and Slack the final content.
func TestEditSurvivesSIGKILLBetweenSendAndRecord(t *testing.T) {
	t.Parallel()
	sl := slackfake.New(t)
	slProxy := e2eharness.NewChaosProxy(t, sl.URL())
	mx := newMatrixRoom(t)
	mxProxy := e2eharness.NewChaosProxy(t, mx.hs.URL)
	feeds := newLivingFeeds(t)
	env := newEnv(t)
	env.Vars = append(env.Vars, "MATRIX_TOKEN="+mx.botToken)
	env.WriteConfig(setup{dataDir: env.DataDir(), slackURL: slProxy.URL + "/", matrixURL: mxProxy.URL, matrixUser: mx.botUser,
		sources:  feeds.sources("@every 1s"),
		channels: []channel{{id: "eu-desk", slack: livingSlack}, {id: "room", matrix: string(mx.room)}}}.yaml())

	feeds.set("council-press", councilStory(storyTitle))
	runOnce(t, env)
	posts := sl.Posts(livingSlack)
	got := alerts(mx.botMessages(t))
	if len(posts) != 1 || len(got) != 1 {
		t.Fatalf("%d Slack posts, %d Matrix alerts; want 1 and 1", len(posts), len(got))
	}
	ts, original := posts[0].TS, got[0].ev.ID

	hang := &e2eharness.ProxyFault{ForwardThenHang: true}
	slProxy.SetRule(func(r *http.Request, _ []byte) *e2eharness.ProxyFault {
		if strings.HasSuffix(r.URL.Path, "/chat.update") {
			return hang
		}
		return nil
	})
	mxProxy.SetRule(func(r *http.Request, body []byte) *e2eharness.ProxyFault {
		if e2eharness.IsMatrixSend(r) && strings.Contains(string(body), `"m.replace"`) {
			return hang
		}
		return nil
	})
	feeds.set("eeas-press", eeasStory())
	p := env.Start("run")
	e2eharness.Eventually(t, 60*time.Second, "both edits to reach the servers", func() bool {
		msg, _ := sl.Message(livingSlack, ts)
		return msg.Edits == 1 && len(mx.replaces(t, original)) == 1
	})
	p.Kill()
	slProxy.SetRule(nil)
	mxProxy.SetRule(nil)

	runOnce(t, env)
	if n := len(mx.replaces(t, original)); n != 1 {
		t.Errorf("%d m.replace edits after the restart, want exactly 1", n)
	}
	msg, _ := sl.Message(livingSlack, ts)
	if c := slackContent(msg); !strings.Contains(c, "eeas-press") || !strings.Contains(c, "Updated ") {
		t.Errorf("Slack message after the restart does not show the final content: %s", c)
	}
	if n := len(sl.Posts(livingSlack)); n != 1 {
		t.Errorf("%d Slack posts, want 1", n)
	}
	if n := len(alerts(mx.botMessages(t))); n != 1 {
		t.Errorf("%d Matrix alerts, want 1", n)
	}
	nothingWaiting(t, env)

}

// TestLatestAndSearchShowTheStory: after a story gained a source and two
// follow-ups, `latest` in the room shows the alert with both sources and
// its thread length; chat search and `policywire search` name every source
// that carried the story.
func TestLatestAndSearchShowTheStory(t *testing.T) {
	t.Parallel()
	mx, feeds, env := matrixOnlyEnv(t)

	first := councilStory(storyTitle)
	first.Description += " It concerns procedure " + procedureRef + "."
	feeds.set("council-press", first)
	runOnce(t, env)
	feeds.set("eeas-press", eeasStory())
	feeds.set("council-press", first, fileItem(1, "Parliament committee adopts its report on the euro in digital form"))
	runOnce(t, env)
	feeds.set("council-press", first, fileItem(1, "Parliament committee adopts its report on the euro in digital form"),
		fileItem(2, "Council and Parliament strike a provisional deal on central bank money"))
	runOnce(t, env)

	r := env.Run(30*time.Second, "search", "envoys")
	if r.Code != 0 || !strings.Contains(r.Stdout, "also reported by eeas-press") || !strings.Contains(r.Stdout, "also reported by council-press") {
		t.Fatalf("policywire search does not name every source of the story\n%s", r)
	}

	proc := env.Start("run")
	proc.WaitLog(30*time.Second, "the command listener's first sync", func(r e2eharness.LogRecord) bool {
		return strings.HasPrefix(r.Msg(), "matrix: first start")
	})
	ctx := context.Background()
	send := func(text string) id.EventID {
		t.Helper()
		resp, err := mx.reader.SendText(ctx, mx.room, text)
		if err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
		return resp.EventID
	}
	body := mx.replyTo(t, send("!pw latest 5"), 30*time.Second)
	for _, want := range []string{storyTitle, "also reported by eeas-press", "2 follow-ups in its thread"} {
		if !strings.Contains(body, want) {
			t.Errorf("latest does not say %q:\n%s", want, body)
		}
	}
	body = mx.replyTo(t, send("!pw search envoys"), 30*time.Second)
	if !strings.Contains(body, "also reported by eeas-press") {
		t.Errorf("chat search does not name the EEAS as a source of the story:\n%s", body)
	}
	proc.Signal(syscall.SIGTERM)
	if code, _ := proc.Wait(15 * time.Second); code != 0 {
		t.Fatalf("daemon exit %d\n%s", code, proc.Stderr())
	}
}
