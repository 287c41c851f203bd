package slackfake

import (
	"net/http"
	"net/url"
	"sort"
	"time"
)

// Threads and edits, as Slack has them: chat.postMessage with thread_ts
// posts a reply, which conversations.history leaves out unless it was
// broadcast (reply_broadcast) and conversations.replies lists under its
// parent; chat.update rewrites a message in place (no new post, nobody
// notified) and answers message_not_found for a message that does not
// exist or was deleted.

// Delete removes a message as a user deleting it in Slack would: it
// disappears from the history and chat.update no longer finds it. It
// reports whether there was such a message.
func (f *Fake) Delete(channel, ts string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.posts {
		if p := &f.posts[i]; p.Channel == channel && p.TS == ts && !p.Deleted {
			p.Deleted = true
			return true
		}
	}
	return false
}

// Message returns the message of channel with ts as it is now (edits
// applied), and whether there is one.
func (f *Fake) Message(channel, ts string) (Post, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.posts {
		if p.Channel == channel && p.TS == ts {
			return p, true
		}
	}
	return Post{}, false
}

// Replies returns the replies posted in the thread of ts, oldest first.
func (f *Fake) Replies(channel, ts string) []Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Post
	for _, p := range f.posts {
		if p.Channel == channel && p.ThreadTS == ts && p.TS != ts {
			out = append(out, p)
		}
	}
	return out
}

// inHistory says whether conversations.history lists a message: not
// deleted, and not a thread reply unless it was broadcast.
func inHistory(p Post) bool {
	return !p.Deleted && (p.ThreadTS == "" || p.ThreadTS == p.TS || p.Broadcast)
}

func (f *Fake) updateMessage(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	channel, ts := form.Get("channel"), form.Get("ts")
	upd, ok := f.acceptMessage(w, channel, form)
	if !ok {
		return
	}
	f.mu.Lock()
	var msg *Post
	for i := range f.posts {
		if p := &f.posts[i]; p.Channel == channel && p.TS == ts && !p.Deleted {
			msg = p
		}
	}
	if msg == nil {
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	msg.Text, msg.Blocks = upd.Text, upd.Blocks
	if upd.Metadata != nil {
		msg.Metadata = upd.Metadata
	}
	msg.Edits++
	msg.EditedAt = time.Now()
	msg.UpdateForms = append(msg.UpdateForms, upd.Form)
	current := *msg
	f.mu.Unlock()
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "channel": channel, "ts": ts, "text": current.Text,
		"message": messageJSON(current, true),
	})
}

func (f *Fake) replies(w http.ResponseWriter, r *http.Request, form url.Values, fault *Fault) {
	if fault != nil {
		f.failAfterwards(w, r, *fault)
		return
	}
	channel, ts := form.Get("channel"), form.Get("ts")
	f.mu.Lock()
	var thread []Post
	for _, p := range f.posts {
		if p.Channel == channel && !p.Deleted && (p.TS == ts || p.ThreadTS == ts) {
			thread = append(thread, p)
		}
	}
	f.mu.Unlock()
	if len(thread) == 0 || thread[0].TS != ts {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "thread_not_found"})
		return
	}
	sort.SliceStable(thread, func(i, j int) bool { return parseTS(thread[i].TS) < parseTS(thread[j].TS) })
	withMetadata := isTrue(form.Get("include_all_metadata"))
	msgs := make([]map[string]any, 0, len(thread))
	for _, p := range thread {
		msgs = append(msgs, messageJSON(p, withMetadata))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok": true, "messages": msgs, "has_more": false,
		"response_metadata": map[string]any{"next_cursor": ""},
	})
}
