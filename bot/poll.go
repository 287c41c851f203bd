package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/summary"
)

// Indexer keeps the search index up to date with the archive.
type Indexer interface {
	Index(items []policywire.Item) error
}

// PollOutcome names how one poll ended, for logs and metrics.
type PollOutcome string

// Poll outcomes.
const (
	OutcomeNew         PollOutcome = "new"
	OutcomeNoChange    PollOutcome = "unchanged"
	OutcomeNotModified PollOutcome = "not-modified"
	OutcomeFailed      PollOutcome = "failed"
	OutcomeSkipped     PollOutcome = "skipped"
)

// PollResult is what one poll of one source did.
type PollResult struct {
	Source  string
	Outcome PollOutcome
	New     int
	Alerts  int
	// Edits counts the edits of delivered alerts queued (or rewritten).
	Edits    int
	Duration time.Duration
	Err      error
}

// Poller polls one source at a time: fetch, normalize, summarize what is
// new, then ingest in one write transaction.
type Poller struct {
	Config  func() *config.Config // the config in force (it changes on reload)
	Store   *store.Store
	Fetcher *sources.Fetcher
	// Summarizer makes the summary of items some channel will receive; it
	// may read the article page. Nil: feed text as is.
	Summarizer *summary.Summarizer
	Router     func() *Router // the current router (it changes on reload and subscribe)
	Index      Indexer        // nil: no search index
	Logger     *slog.Logger
	Now        func() time.Time
	// Observe, when set, is told about every poll (metrics).
	Observe func(PollResult, *sources.ReadResult)
}

func (p *Poller) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Poll fetches one source and ingests what is new. A failing source is
// recorded in its state and reported in the result; the returned error is
// only for failures of the bot itself (the database).
func (p *Poller) Poll(ctx context.Context, src config.Source) (PollResult, error) {
	start := p.now()
	res := PollResult{Source: src.ID}
	st, err := p.Store.SourceState(src.ID)
	if err != nil {
		return res, fmt.Errorf("bot: poll %s: %w", src.ID, err)
	}
	st.LastPoll = start
	st.Polls++
	loc := p.Config().Location

	read, ferr := sources.Read(ctx, p.Fetcher, wiring.Source(src), sources.Validators{ETag: st.ETag, LastModified: st.LastModified}, loc)
	res.Duration = time.Since(start)
	if ferr != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return p.failed(res, st, src, ferr, read)
	}
	if read != nil {
		for _, w := range read.Warnings {
			p.Logger.Warn("poll: item kept in part", "source", src.ID, "warning", w)
		}
	}
	// The state as it was, for a poll whose finds cannot be stored: its
	// validators must not be kept, or the next poll would get a 304 and
	// never see those items again.
	before := st
	st.ConsecutiveFailures, st.LastError, st.LastErrorKind = 0, "", ""
	if read.Response != nil && !read.Response.NotModified {
		st.LastWarning = read.Report.Summary()
	}
	st.LastSuccess = p.now()
	st.NextAllowed = time.Time{}
	if read.Response != nil {
		if read.Response.MaxAge > 0 {
			st.NextAllowed = st.LastSuccess.Add(read.Response.MaxAge)
		}
		if !read.Response.NotModified {
			st.ETag, st.LastModified = read.Response.Validators.ETag, read.Response.Validators.LastModified
		}
	}
	if read.Response != nil && read.Response.NotModified {
		res.Outcome = OutcomeNotModified
		if err := p.putState(st); err != nil {
			return res, fmt.Errorf("bot: poll %s: %w", src.ID, err)
		}
		p.report(res, read)
		return res, nil
	}

	router := p.Router()
	items, routed, err := p.prepare(ctx, src, st, read.Items, router)
	if err != nil {
		return p.failed(res, before, src, &PollFailure{Kind: KindStore, Err: err}, read)
	}
	// Items prepare left as they were are routed as prepare routed them:
	// preparing an item for matching is the costly part of routing.
	route := func(it policywire.Item) []store.Route {
		if r, ok := routed[it.ID]; ok {
			return r
		}
		return router.Route(it)
	}
	// The store tells a revision by the feed's own summary, not the one
	// made here, so it is handed over alongside.
	feedSummaries := map[string]string{}
	for i := range items {
		if items[i].Summary != read.Items[i].Summary {
			feedSummaries[items[i].ID] = read.Items[i].Summary
		}
	}
	ing, err := p.Store.Ingest(store.Batch{
		Source: src.ID, SourceName: sourceName(src), Items: items, State: st, Backfill: src.Backfill,
		FeedSummaries: feedSummaries,
	}, route)
	if err != nil {
		return p.failed(res, before, src, &PollFailure{Kind: KindStore, Err: fmt.Errorf("bot: ingest %s: %w", src.ID, err)}, read)
	}
	res.New, res.Alerts, res.Edits = ing.New, len(ing.Alerts), ing.Edits
	res.Outcome = OutcomeNoChange
	if ing.New > 0 {
		res.Outcome = OutcomeNew
	}
	if p.Index != nil && len(ing.NewItems)+len(ing.Updated) > 0 {
		if err := p.Index.Index(append(append([]policywire.Item(nil), ing.NewItems...), ing.Updated...)); err != nil {
			// The index is derived and rebuilt at start when broken; an
			// indexing failure must not lose the poll.
			p.Logger.Warn("search index update failed", "source", src.ID, "err", err)
		}
	}
	res.Duration = time.Since(start)
	p.report(res, read)
	return res, nil
}

// PollRecovered is Poll, with a panic of the poll (a parser bug on some
// input, say) logged with its stack and recorded as a failure of the
// source (kind "panic"), so that the process goes on.
func (p *Poller) PollRecovered(ctx context.Context, src config.Source) (res PollResult, err error) {
	start := p.now()
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		p.Logger.Error("poll panicked; the source counts a failure", "source", src.ID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		res = PollResult{Source: src.ID, Outcome: OutcomeFailed, Duration: time.Since(start),
			Err: &PollFailure{Kind: KindPanic, Err: fmt.Errorf("bot: poll %s panicked: %v", src.ID, r)}}
		err = p.recordCrash(src, start, res.Err)
	}()
	return p.Poll(ctx, src)
}

// prepare summarizes the items not seen before. Items that some channel
// will receive get the full treatment (the article page when the feed says
// little); the rest only what their own text gives.
func (p *Poller) prepare(ctx context.Context, src config.Source, st store.SourceState, items []policywire.Item, router *Router) ([]policywire.Item, map[string][]store.Route, error) {
	if p.Summarizer == nil || len(items) == 0 {
		return items, nil, nil
	}
	unseen, err := p.Store.Unseen(items)
	if err != nil {
		return nil, nil, fmt.Errorf("bot: poll %s: %w", src.ID, err)
	}
	routed := make(map[string][]store.Route, len(unseen))
	fresh := make(map[string]bool, len(unseen))
	for _, it := range unseen {
		fresh[it.ID] = true
	}
	cutoff := time.Time{}
	if !st.FirstPollDone && src.Backfill > 0 {
		cutoff = p.now().Add(-src.Backfill)
	}
	out := make([]policywire.Item, len(items))
	copy(out, items)
	for i := range out {
		if !fresh[out[i].ID] {
			continue
		}
		it := out[i]
		routes := router.Route(it)
		posted := len(routes) > 0 && (cutoff.IsZero() || it.Date().IsZero() || !it.Date().Before(cutoff))
		var topics []string
		for _, r := range routes {
			topics = append(topics, r.Topics...)
		}
		if !posted {
			// Archived only: its feed text is summary enough for search, and
			// its references make it findable with ref:. Summarizing every
			// archived item was most of the cost of a first poll.
			refs := summary.References(referenceText(it))
			if len(refs) == 0 {
				routed[it.ID] = routes
				continue
			}
			out[i].References = mergeRefs(out[i].References, refs)
			continue
		}
		sum, err := p.Summarizer.Summarize(ctx, it, router.TopicWords(topics))
		if err != nil {
			p.Logger.Debug("summary failed; keeping the feed text", "source", src.ID, "item", it.URL, "err", err)
			continue
		}
		if sum.Summary != "" {
			out[i].Summary = sum.Summary
		}
		out[i].References = mergeRefs(out[i].References, sum.References)
	}
	return out, routed, nil
}

// Kinds of poll failure that are the bot's, not the source's (the
// source's are sources.ErrorKind).
const (
	KindStore = "store" // what the source served could not be stored
	KindPanic = "panic" // the poll crashed and was recovered: a bug
)

// PollFailure is a poll that failed on the bot's side.
type PollFailure struct {
	Kind string
	Err  error
}

func (e *PollFailure) Error() string { return e.Err.Error() }
func (e *PollFailure) Unwrap() error { return e.Err }

// failureKind names the kind of a poll failure for the source's state.
func failureKind(err error) string {
	var pf *PollFailure
	if errors.As(err, &pf) {
		return pf.Kind
	}
	return string(sources.KindOf(err))
}

// failed records a failed poll in st (the state as the poll began) and
// reports it: counted, backed off, and shown like any failure.
func (p *Poller) failed(res PollResult, st store.SourceState, src config.Source, ferr error, read *sources.ReadResult) (PollResult, error) {
	res.Outcome, res.Err = OutcomeFailed, ferr
	res.New, res.Alerts = 0, 0
	p.recordFailure(&st, ferr, schedulePeriod(src.Schedule, p.Config().Location))
	if err := p.putState(st); err != nil {
		return res, fmt.Errorf("bot: poll %s: %w", src.ID, err)
	}
	p.report(res, read)
	return res, nil
}

// recordCrash records a failure of a poll that could not report it
// itself (it panicked): the source's state counts it like any failure.
func (p *Poller) recordCrash(src config.Source, start time.Time, ferr error) error {
	st, err := p.Store.SourceState(src.ID)
	if err != nil {
		return fmt.Errorf("bot: record failure of %s: %w", src.ID, err)
	}
	if st.LastPoll.Before(start) {
		st.LastPoll = start
		st.Polls++
	}
	p.recordFailure(&st, ferr, schedulePeriod(src.Schedule, p.Config().Location))
	if err := p.putState(st); err != nil {
		return fmt.Errorf("bot: record failure of %s: %w", src.ID, err)
	}
	return nil
}

// putState writes a source's state; one that a later poll of the source
// overtook is dropped, the later one being the truth.
func (p *Poller) putState(st store.SourceState) error {
	err := p.Store.PutSourceState(st)
	if errors.Is(err, store.ErrStaleSourceState) {
		p.Logger.Debug("poll: a later poll recorded the source's state first", "source", st.Source)
		return nil
	}
	return err
}

func (p *Poller) report(res PollResult, read *sources.ReadResult) {
	attrs := []any{"source", res.Source, "outcome", string(res.Outcome), "new", res.New, "alerts", res.Alerts, "duration", res.Duration.Round(time.Millisecond)}
	if res.Err != nil {
		attrs = append(attrs, "err", res.Err.Error())
		p.Logger.Warn("poll", attrs...)
	} else {
		p.Logger.Info("poll", attrs...)
	}
	if p.Observe != nil {
		p.Observe(res, read)
	}
}

// recordFailure notes a failed poll and sets when the source may be asked
// again: exponential backoff from the failure count, longer for refusals
// (403, challenge pages) that a quick retry will not cure, and never before
// a Retry-After.
func (p *Poller) recordFailure(st *store.SourceState, err error, period time.Duration) {
	now := p.now()
	st.ConsecutiveFailures++
	st.LastError = err.Error()
	st.LastErrorKind = failureKind(err)
	st.NextAllowed = now.Add(FailureBackoff(err, st.ConsecutiveFailures, period))
	var se *sources.Error
	if errors.As(err, &se) && se.RetryAfter.After(st.NextAllowed) {
		st.NextAllowed = se.RetryAfter
	}
}

// FailureBackoff is how long to leave a source alone after its n-th failure
// in a row: 1 min doubling for network trouble, 10 min doubling for refusals
// and unexpected pages, at most 24 h, with ±10% jitter. A source scheduled
// more often than once a minute backs off in proportion to its period (the
// period stands for the minute: "@every 10s" waits 10 s, 20 s, 40 s … after
// network trouble and 100 s, 200 s … after a refusal), so its first
// failure costs about one regular poll, not six. period 0 means unknown.
func FailureBackoff(err error, n int, period time.Duration) time.Duration {
	base := time.Minute
	switch sources.KindOf(err) {
	case sources.KindUnexpected, sources.KindRefused, sources.KindParse:
		base = 10 * time.Minute
	case sources.KindStatus:
		var se *sources.Error
		if errors.As(err, &se) && (se.Status == 403 || se.Status == 401 || se.Status == 404 || se.Status == 410) {
			base = 10 * time.Minute
		}
	}
	if period > 0 && period < time.Minute {
		base = time.Duration(float64(base) * float64(period) / float64(time.Minute))
	}
	if n < 1 {
		n = 1
	}
	d := time.Duration(float64(base) * math.Pow(2, float64(min(n-1, 20))))
	if d > 24*time.Hour {
		d = 24 * time.Hour
	}
	jitter := 0.9 + 0.2*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

// schedulePeriod is the time between two runs of a schedule (0 when the
// spec does not parse); for irregular cron specs it is the next interval.
func schedulePeriod(spec string, loc *time.Location) time.Duration {
	sched, err := parseSchedule(spec, loc)
	if err != nil {
		return 0
	}
	first := sched.Next(time.Now())
	return sched.Next(first).Sub(first)
}

func sourceName(src config.Source) string {
	if src.Name != "" {
		return src.Name
	}
	return src.ID
}

// mergeRefs keeps the references the source gave (a CELEX number from a
// title prefix, say) and adds those found in the text, without repeats.
func mergeRefs(a, b []string) []string {
	seen := make(map[string]bool, len(a)+len(b))
	var out []string
	for _, r := range append(append([]string(nil), a...), b...) {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// referenceText is where an archived item's policy references are looked
// for: title, summary and the lead of the content, where official texts
// name their procedures and documents.
func referenceText(it policywire.Item) string {
	content := it.Content
	const lead = 5000
	if len(content) > lead {
		cut := lead
		for cut > 0 && !utf8.RuneStart(content[cut]) {
			cut--
		}
		content = content[:cut]
	}
	return it.Title + "\n" + it.Summary + "\n" + content
}
