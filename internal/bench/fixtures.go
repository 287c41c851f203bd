package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FixtureConfig describes the synthetic world one fixture server serves.
type FixtureConfig struct {
	Sources int
	Seed    uint64
	// Epoch anchors every item date; the same epoch and seed give the same
	// bodies byte for byte.
	Epoch time.Time
}

// Fixtures is the loopback world of the bench: N synthetic feeds that
// honour If-None-Match, a control endpoint that publishes new items on a
// share of them, and a sink that speaks enough of Slack's Web API
// (chat.postMessage, conversations.history, auth.test) for the real Slack
// sender, recording when each alert arrived.
type Fixtures struct {
	cfg     FixtureConfig
	srcs    []feedSource
	baseURL string
	srv     *http.Server
	ln      net.Listener
	done    chan struct{}

	mu     sync.Mutex
	states []feedState
	cycle  int

	sinkMu sync.Mutex
	posts  []Delivery
	byChan map[string][]Delivery
	tsSeq  int64
}

// Delivery is one message the sink accepted.
type Delivery struct {
	AlertID string `json:"alert_id"`
	Channel string `json:"channel"`
	Source  string `json:"source"` // the synthetic source named in the text
	TS      string `json:"ts"`
	// At is the arrival time in Unix nanoseconds.
	At int64 `json:"at"`
}

// Change is what one publication round did.
type Change struct {
	// VisibleAt is the moment (Unix nanoseconds) the new items could first
	// be fetched.
	VisibleAt int64 `json:"visible_at"`
	// Added maps each changed source to the number of items prepended.
	Added map[string]int `json:"added"`
}

// StartFixtures listens on a loopback port and serves the fixtures until
// Close.
func StartFixtures(cfg FixtureConfig) (*Fixtures, error) {
	if cfg.Sources <= 0 {
		return nil, errors.New("bench: fixtures: at least one source is needed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: fixtures: listen: %w", err)
	}
	f := &Fixtures{
		cfg:     cfg,
		baseURL: "http://" + ln.Addr().String(),
		ln:      ln,
		done:    make(chan struct{}),
		byChan:  map[string][]Delivery{},
	}
	f.srcs = make([]feedSource, cfg.Sources)
	f.states = make([]feedState, cfg.Sources)
	for i := range f.srcs {
		f.srcs[i] = newFeedSource(cfg.Seed, i)
		f.states[i] = initialState(f.srcs[i], cfg.Epoch)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feeds/{n}", f.serveFeed)
	mux.HandleFunc("POST /_control/change", f.serveChange)
	mux.HandleFunc("GET /_control/deliveries", f.serveDeliveries)
	mux.HandleFunc("POST /api/chat.postMessage", f.servePost)
	mux.HandleFunc("POST /api/conversations.history", f.serveHistory)
	// A thread reply's earlier copy is looked for among the replies; the
	// sink keeps no threads, so it answers with the channel's alerts, where
	// an alert id is found all the same.
	mux.HandleFunc("POST /api/conversations.replies", f.serveHistory)
	mux.HandleFunc("POST /api/chat.update", f.serveUpdate)
	mux.HandleFunc("POST /api/auth.test", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"ok": true, "user_id": "UBENCHBOT", "team_id": "TBENCH", "bot_id": "BBENCHBOT"})
	})
	f.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(f.done)
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

// URL is the server's base URL.
func (f *Fixtures) URL() string { return f.baseURL }

// Close stops the server and drops its connections: the bench has read
// every answer it waits for by then.
func (f *Fixtures) Close() error {
	err := f.srv.Close()
	<-f.done
	return err
}

// FeedURL is the URL of source i on a server at baseURL.
func FeedURL(baseURL string, i int) string { return fmt.Sprintf("%s/feeds/%d", baseURL, i) }

func (f *Fixtures) serveFeed(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || i < 0 || i >= len(f.srcs) {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	st := f.states[i]
	f.mu.Unlock()
	s := f.srcs[i]
	etag := st.etag(s)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", st.changed.UTC().Format(http.TimeFormat))
	if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := s.render(f.cfg.Seed, st, f.cfg.Epoch, f.baseURL)
	if s.atom {
		h.Set("Content-Type", "application/atom+xml; charset=utf-8")
	} else {
		h.Set("Content-Type", "application/rss+xml; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// serveChange prepends 1 to 3 new items to a share of the sources, chosen
// afresh each round, and makes them visible all at once.
func (f *Fixtures) serveChange(w http.ResponseWriter, r *http.Request) {
	share, err := strconv.ParseFloat(r.URL.Query().Get("share"), 64)
	if err != nil || share < 0 || share > 1 {
		http.Error(w, "share must be a number from 0 to 1", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.cycle++
	rng := rand.New(rand.NewPCG(f.cfg.Seed, 0xc4a9e+uint64(f.cycle)))
	count := int(float64(len(f.srcs))*share + 0.5)
	chosen := rng.Perm(len(f.srcs))[:count]
	now := time.Now()
	ch := Change{Added: make(map[string]int, count)}
	for _, i := range chosen {
		k := 1 + rng.IntN(3)
		st := &f.states[i]
		st.adds = append(st.adds, feedAddition{from: st.top + 1, at: now})
		st.top += k
		st.version++
		st.changed = now
		ch.Added[f.srcs[i].id] = k
	}
	ch.VisibleAt = time.Now().UnixNano()
	f.mu.Unlock()
	writeJSON(w, ch)
}

// serveDeliveries returns the messages accepted since the last call.
func (f *Fixtures) serveDeliveries(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, f.takeDeliveries())
}

func (f *Fixtures) takeDeliveries() []Delivery {
	f.sinkMu.Lock()
	defer f.sinkMu.Unlock()
	out := f.posts
	f.posts = nil
	if out == nil {
		out = []Delivery{}
	}
	return out
}

// sourceInText finds the synthetic source named in a message.
var sourceInText = regexp.MustCompile(`src-\d{5}`)

// slackMetadata is the part of Slack's message metadata the sink reads.
type slackMetadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// servePost accepts chat.postMessage as a form or a JSON body.
func (f *Fixtures) servePost(w http.ResponseWriter, r *http.Request) {
	at := time.Now().UnixNano()
	var channel, text string
	var md slackMetadata
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Channel  string        `json:"channel"`
			Text     string        `json:"text"`
			Metadata slackMetadata `json:"metadata"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_json"})
			return
		}
		channel, text, md = body.Channel, body.Text, body.Metadata
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		channel, text = r.PostForm.Get("channel"), r.PostForm.Get("text")
		if raw := r.PostForm.Get("metadata"); raw != "" {
			if err := json.Unmarshal([]byte(raw), &md); err != nil {
				writeJSON(w, map[string]any{"ok": false, "error": "invalid_metadata_format"})
				return
			}
		}
	}
	if channel == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "channel_not_found"})
		return
	}
	if text == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "no_text"})
		return
	}
	alertID, _ := md.EventPayload["alert_id"].(string)
	f.sinkMu.Lock()
	f.tsSeq++
	ts := fmt.Sprintf("%d.%06d", at/int64(time.Second), f.tsSeq%1000000)
	d := Delivery{AlertID: alertID, Channel: channel, Source: sourceInText.FindString(text), TS: ts, At: at}
	f.posts = append(f.posts, d)
	if alertID != "" {
		f.byChan[channel] = append(f.byChan[channel], d)
	}
	f.sinkMu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts, "message": map[string]any{"type": "message", "text": text, "ts": ts}})
}

// serveUpdate accepts chat.update (an alert edited in place when its
// story gains a source); an edit is no delivery, so nothing is recorded.
func (f *Fixtures) serveUpdate(w http.ResponseWriter, r *http.Request) {
	var channel, ts string
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var body struct {
			Channel string `json:"channel"`
			TS      string `json:"ts"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_json"})
			return
		}
		channel, ts = body.Channel, body.TS
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
			return
		}
		channel, ts = r.PostForm.Get("channel"), r.PostForm.Get("ts")
	}
	if channel == "" || ts == "" {
		writeJSON(w, map[string]any{"ok": false, "error": "message_not_found"})
		return
	}
	writeJSON(w, map[string]any{"ok": true, "channel": channel, "ts": ts})
}

// serveHistory answers conversations.history with the alerts posted to a
// channel, newest first, metadata included, so that the sender's check
// for an earlier post works.
func (f *Fixtures) serveHistory(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	channel := r.PostForm.Get("channel")
	limit, _ := strconv.Atoi(r.PostForm.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	f.sinkMu.Lock()
	posted := f.byChan[channel]
	msgs := make([]map[string]any, 0, min(limit, len(posted)))
	for k := len(posted) - 1; k >= 0 && len(msgs) < limit; k-- {
		d := posted[k]
		msgs = append(msgs, map[string]any{
			"type": "message", "ts": d.TS, "bot_id": "BBENCHBOT",
			"metadata": map[string]any{"event_type": "policywire_alert", "event_payload": map[string]any{"alert_id": d.AlertID}},
		})
	}
	f.sinkMu.Unlock()
	writeJSON(w, map[string]any{"ok": true, "messages": msgs, "has_more": false})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// fixtureClient drives a fixture server, in this process or another,
// through its control endpoints.
type fixtureClient struct {
	base string
	hc   *http.Client
}

func (c fixtureClient) change(ctx context.Context, share float64) (Change, error) {
	var ch Change
	err := c.call(ctx, http.MethodPost, "/_control/change?share="+url.QueryEscape(strconv.FormatFloat(share, 'f', -1, 64)), &ch)
	return ch, err
}

func (c fixtureClient) deliveries(ctx context.Context) ([]Delivery, error) {
	var ds []Delivery
	err := c.call(ctx, http.MethodGet, "/_control/deliveries", &ds)
	return ds, err
}

func (c fixtureClient) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("bench: fixtures: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("bench: fixtures %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("bench: fixtures %s: %s: %s", path, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("bench: fixtures %s: %w", path, err)
	}
	return nil
}
