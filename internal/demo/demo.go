// Package demo is `policywire demo`: one pass of the real bot over five
// bundled sample sources (a Council RSS feed, an EEAS listing page, a State
// Department WordPress feed, a GOV.UK Atom feed and an industry coalition's
// feed) served from a loopback server, with the alerts printed as the chat
// would show them, then a search prompt over what was archived. It owns the
// samples, the demo configuration and the terminal transcript; it needs no
// network, no chat account and no config file, and it leaves nothing behind
// unless asked to keep its data directory.
package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	_ "time/tzdata" // the demo shows Brussels time on any machine

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/console"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
	"github.com/policywire/policywire/summary"
)

// Options are what Run needs from its caller.
type Options struct {
	// Stdin holds search queries, one a line, read until EOF when Prompt
	// is set.
	Stdin io.Reader
	// Stdout receives the transcript; Stderr the log (errors only unless
	// Logger says otherwise).
	Stdout, Stderr io.Writer
	// Colour styles the transcript with ANSI escapes (for a terminal).
	Colour bool
	// Prompt asks for search queries after the pass.
	Prompt bool
	// Now is the clock (time.Now when nil). Sample dates are relative to
	// it, so a fixed clock gives the same transcript every time.
	Now func() time.Time
	// DataDir keeps the database and index there; "" uses a temporary
	// directory removed when Run returns.
	DataDir string
	// Logger receives the bot's log; nil logs errors to Stderr.
	Logger *slog.Logger
}

// drainTimeout bounds the delivery of the pass; the console never fails,
// so it only matters when writing to Stdout blocks.
const drainTimeout = 30 * time.Second

// Run runs the demo: it serves the samples, polls them once, prints the
// alerts of each channel, and answers searches from Stdin until EOF (or
// ctx ends) when o.Prompt is set.
func Run(ctx context.Context, o Options) (err error) {
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(o.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	out := &transcript{w: o.Stdout, colour: o.Colour}

	dataDir := o.DataDir
	if dataDir == "" {
		dataDir, err = os.MkdirTemp("", "policywire-demo-")
		if err != nil {
			return fmt.Errorf("demo: data directory: %w", err)
		}
		defer func() {
			if rerr := os.RemoveAll(dataDir); rerr != nil && err == nil {
				err = fmt.Errorf("demo: remove data directory: %w", rerr)
			}
		}()
	} else if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return fmt.Errorf("demo: data directory: %w", err)
	}

	srv, err := serveSamples(o.Now())
	if err != nil {
		return err
	}
	defer func() {
		if cerr := srv.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	cfg, err := demoConfig(srv.URL(), dataDir)
	if err != nil {
		return err
	}

	st, err := store.Open(filepath.Join(dataDir, "policywire.db"), store.Options{Now: o.Now})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: %w", cerr)
		}
	}()
	idx, err := index.OpenOrRebuild(ctx, filepath.Join(dataDir, "index"), st, o.Logger)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if cerr := idx.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: %w", cerr)
		}
	}()

	fo := wiring.FetcherOptions(cfg.Fetch)
	fo.Now, fo.Logger = o.Now, o.Logger
	fetcher := sources.NewFetcher(fo)
	defer fetcher.Close()
	summarizer := summary.New(summary.Options{Config: cfg.Summary, Logger: o.Logger})

	var alertBuf bytes.Buffer
	sender := &console.Sender{W: &alertBuf, Location: cfg.Location, Colour: o.Colour, ChannelNames: channelNames()}
	itemsRead := map[string]int{}
	delivered := 0
	b, err := bot.New(bot.Options{
		Config: cfg, Store: st, Fetcher: fetcher,
		Summarizer: summarizer,
		Senders:    map[string]bot.Sender{"*": sender},
		Index:      idx,
		Logger:     o.Logger,
		Now:        o.Now,
		// The console sender writes to memory and cannot fail: one
		// attempt is all it takes.
		MaxAttempts: 1,
		OnPoll: func(r bot.PollResult, read *sources.ReadResult) {
			if read != nil {
				itemsRead[r.Source] = len(read.Items)
			}
		},
		OnDelivery: func(ev bot.DeliveryEvent) {
			if ev.Err == nil && !ev.Edit {
				delivered++
			}
		},
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer b.Close()

	out.line("%s", out.style(bold, "policywire demo")+" — five sample sources served from this machine; no network, no chat account needed.")
	out.line("")
	// Sources are polled one after the other so that, when two publish
	// the same story, the same one is first every time.
	results := make([]bot.PollResult, 0, len(cfg.Sources))
	for _, src := range cfg.Sources {
		r, err := b.Poller.Poll(ctx, src)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		results = append(results, r)
	}
	if err := b.FlushIndex(); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	printProgress(out, cfg, results, itemsRead)
	out.line("")

	// Channels are delivered one after the other, each in publication
	// order, so the transcript reads channel by channel.
	ctxDrain, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	for _, ch := range cfg.Channels {
		alertBuf.Reset()
		next, err := b.Dispatcher.Step(ctxDrain, ch)
		if err != nil {
			return fmt.Errorf("demo: deliver to %s: %w", ch.ID, err)
		}
		if !next.IsZero() {
			return fmt.Errorf("demo: deliver to %s: alerts left undelivered", ch.ID)
		}
		if alertBuf.Len() == 0 {
			continue
		}
		out.line("%s", out.style(bold, fmt.Sprintf("── %s · topics: %s", channelNames()[ch.Target()], strings.Join(ch.Topics, ", "))+channelScope(ch)))
		out.line("")
		out.write(alertBuf.String())
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	failed := 0
	for _, r := range results {
		if r.Outcome == bot.OutcomeFailed {
			failed++
		}
	}
	summaryLine := fmt.Sprintf("%d alert%s to %d channels from %d sources", delivered, plural(delivered), len(cfg.Channels), len(cfg.Sources))
	if failed > 0 {
		summaryLine += fmt.Sprintf(" (%d failed)", failed)
	}
	out.line("%s. Try a search: %s", summaryLine, `"tech ambassador", ransomware, cybersécurité, source:state-press`)
	if o.DataDir != "" {
		out.line("The database and search index are kept in %s.", dataDir)
	}
	if out.err != nil {
		return fmt.Errorf("demo: write: %w", out.err)
	}
	if failed > 0 {
		// The samples are served from this process: a failure is a fault
		// of this machine or of policywire, never of a publisher.
		return fmt.Errorf("demo: %d of %d sample sources failed (see above)", failed, len(cfg.Sources))
	}
	if !o.Prompt || o.Stdin == nil {
		return nil
	}
	out.line("Type a query and press Enter (the query language of topics and chat search); Ctrl-D ends the demo.")
	cmds := &bot.Commands{Bot: b, Searcher: idx, Now: o.Now}
	return searchLoop(ctx, o.Stdin, out, cmds)
}

// serveSamples renders every sample for now and serves them on loopback.
func serveSamples(now time.Time) (*sampleServer, error) {
	files := map[string]servedFile{}
	for _, s := range samples() {
		body, err := renderSample(s.File, now)
		if err != nil {
			return nil, err
		}
		files[s.Path] = servedFile{body: body, contentType: s.ContentType}
	}
	return startSampleServer(files)
}

func channelScope(ch config.Channel) string {
	if len(ch.Sources) == 0 {
		return ""
	}
	return " · sources: " + strings.Join(ch.Sources, ", ")
}

// printProgress prints one line per source, in config order, with columns
// aligned.
func printProgress(out *transcript, cfg *config.Config, results []bot.PollResult, itemsRead map[string]int) {
	idWidth, nameWidth := 0, 0
	for _, s := range cfg.Sources {
		idWidth = max(idWidth, utf8.RuneCountInString(s.ID))
		nameWidth = max(nameWidth, utf8.RuneCountInString(s.Name))
	}
	for i, r := range results {
		src := cfg.Sources[i]
		cols := pad(src.ID, idWidth) + "  " + pad(src.Name, nameWidth) + "  "
		if r.Outcome == bot.OutcomeFailed {
			out.line("%s %s%s", out.style(red, "✗"), cols, out.style(red, "error: "+console.Clean(errText(r.Err))))
			continue
		}
		n := itemsRead[r.Source]
		out.line("%s %s%d item%s, %d new alert%s", out.style(green, "✓"), cols, n, plural(n), r.Alerts, plural(r.Alerts))
	}
}

func errText(err error) string {
	if err == nil {
		return "failed"
	}
	return err.Error()
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// searchLoop answers one query per line of in until EOF or ctx ends. The
// lines are read by a goroutine so that an interrupt ends the prompt at
// once; that goroutine ends with the input (EOF) or at its next line.
func searchLoop(ctx context.Context, in io.Reader, out *transcript, cmds *bot.Commands) error {
	type line struct {
		text string
		err  error
		eof  bool
	}
	lines := make(chan line)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		for sc.Scan() {
			select {
			case lines <- line{text: sc.Text()}:
			case <-stop:
				return
			}
		}
		select {
		case lines <- line{err: sc.Err(), eof: true}:
		case <-stop:
		}
	}()
	for {
		out.write("\n" + out.style(bold, "search> "))
		if out.err != nil {
			return fmt.Errorf("demo: write: %w", out.err)
		}
		var l line
		select {
		case <-ctx.Done():
			out.write("\n")
			return nil
		case l = <-lines:
		}
		if l.eof {
			out.write("\n")
			if l.err != nil {
				return fmt.Errorf("demo: read queries: %w", l.err)
			}
			return nil
		}
		q := strings.TrimSpace(l.text)
		if q == "" {
			continue
		}
		ans, err := cmds.Handle(ctx, bot.CommandRequest{Platform: "console", Text: "search " + q}, "")
		if err != nil {
			if ctx.Err() != nil {
				out.write("\n")
				return nil
			}
			return fmt.Errorf("demo: %w", err)
		}
		out.answer(ans)
	}
}

// ANSI styles of the transcript.
const (
	bold  = "\x1b[1m"
	dim   = "\x1b[2m"
	red   = "\x1b[31m"
	green = "\x1b[32m"
	cyan  = "\x1b[36m"
	reset = "\x1b[0m"
)

// transcript writes the demo's output and remembers the first write error,
// so the many small writes need not each be checked.
type transcript struct {
	w      io.Writer
	colour bool
	err    error
}

func (t *transcript) write(s string) {
	if t.err != nil {
		return
	}
	_, t.err = io.WriteString(t.w, s)
}

func (t *transcript) line(format string, args ...any) {
	t.write(fmt.Sprintf(format, args...) + "\n")
}

func (t *transcript) style(code, s string) string {
	if !t.colour || s == "" {
		return s
	}
	return code + s + reset
}

// answer prints a search answer: the lead line, then each hit with its
// title, link, source and date, and the snippet with the matched words
// marked (bold in colour, plain otherwise).
func (t *transcript) answer(a bot.Answer) {
	t.line("%s", console.Clean(a.Text))
	for i, e := range a.Entries {
		t.line("%2d. %s", i+1, t.style(bold, console.Clean(e.Title)))
		t.line("    %s", t.style(cyan, console.Clean(e.URL)))
		t.line("    %s", t.style(dim, console.Clean(e.Meta)))
		for _, l := range wrap(console.Clean(e.Snippet), snippetWidth) {
			t.line("    %s", t.marks(l))
		}
	}
	for _, l := range a.Lines {
		t.line("%s", console.Clean(l))
	}
}

// snippetWidth is where snippets wrap, leaving room for the indent.
const snippetWidth = 74

// wrap breaks text into lines of at most width runes at spaces (a longer
// word gets a line of its own). The «» marks do not count: they are
// dropped or become invisible escapes.
func wrap(text string, width int) []string {
	var lines []string
	var line strings.Builder
	n := 0
	for _, w := range strings.Fields(text) {
		wn := utf8.RuneCountInString(w) - strings.Count(w, "«") - strings.Count(w, "»")
		if n > 0 && n+1+wn > width {
			lines = append(lines, line.String())
			line.Reset()
			n = 0
		}
		if n > 0 {
			line.WriteByte(' ')
			n++
		}
		line.WriteString(w)
		n += wn
	}
	if n > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

// marks turns «word» into bold word, or drops the marks without colour.
func (t *transcript) marks(s string) string {
	open, closing := "", ""
	if t.colour {
		open, closing = bold, reset
	}
	return strings.NewReplacer("«", open, "»", closing).Replace(s)
}
