package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/console"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/control"
	"github.com/policywire/policywire/internal/memlimit"
	"github.com/policywire/policywire/store"
)

type runFlags struct {
	once         bool
	dryRun       bool
	drainTimeout time.Duration
	shutdown     time.Duration
}

func newRunCmd(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the daemon, or one pass with --once",
		Long: "run schedules every source, delivers alerts, answers chat commands and serves HTTP.\n" +
			"With --once it polls every source once, delivers everything due and exits:\n" +
			"exit 1 names the alerts left undelivered. --dry-run prints the alerts instead\n" +
			"of posting them and writes no state.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.dryRun && !f.once {
				return usageError(errors.New("--dry-run goes with --once"))
			}
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			stopProfile, err := startProfile()
			if err != nil {
				return err
			}
			defer stopProfile()
			if f.once {
				return a.runOnce(cmd.Context(), cfg, f)
			}
			return a.runDaemon(cmd.Context(), cfg, f)
		},
	}
	cmd.Flags().BoolVar(&f.once, "once", false, "poll every source once, deliver, and exit")
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "with --once: print alerts to stdout and write no state")
	cmd.Flags().DurationVar(&f.drainTimeout, "drain-timeout", 2*time.Minute, "with --once: how long to keep retrying deliveries")
	cmd.Flags().DurationVar(&f.shutdown, "shutdown-timeout", 8*time.Second, "how long work in flight may take to finish on SIGTERM")
	return cmd
}

// runOnce is `run --once`: a failing source is reported but does not fail
// the run; alerts left undelivered do (exit 1).
func (a *app) runOnce(ctx context.Context, cfg *config.Config, f runFlags) error {
	logger := a.logger(cfg)
	applyMemoryLimit(logger)
	logConfigWarnings(logger, cfg)
	var st *store.Store
	var err error
	if f.dryRun {
		st, err = a.scratchCopy(cfg)
	} else {
		st, err = openStore(cfg, false, 2*time.Second)
	}
	if err != nil {
		return lockedHint(err)
	}
	defer st.Close()
	fetcher := newFetcher(cfg, logger)
	defer fetcher.Close()
	opts := bot.Options{Config: cfg, Store: st, Fetcher: fetcher, Summarizer: newSummarizer(cfg, fetcher, st, logger), Logger: logger, MaxAttempts: 6}
	if f.dryRun {
		opts.Senders = map[string]bot.Sender{"*": &console.Sender{W: a.stdout, Location: cfg.Location, ChannelNames: channelNames(cfg)}}
	} else {
		senders, mx, _, err := newSenders(ctx, cfg, logger)
		if err != nil {
			return err
		}
		if mx != nil {
			defer mx.Close()
		}
		opts.Senders = senders
		idx, err := newLazyIndex(ctx, cfg, st, logger)
		if err != nil {
			return err
		}
		defer idx.Close()
		opts.Index = idx
	}
	b, err := bot.New(opts)
	if err != nil {
		return err
	}
	defer b.Close()
	rep, err := b.RunOnce(ctx, f.drainTimeout)
	if err != nil {
		return err
	}
	for _, p := range rep.Polls {
		if p.Err != nil {
			fmt.Fprintf(a.stderr, "source %s failed: %v\n", p.Source, p.Err)
		}
	}
	if len(rep.Undelivered) > 0 {
		var parts []string
		for _, u := range rep.Undelivered {
			parts = append(parts, fmt.Sprintf("%s: %d pending, %d parked (%s)", u.Channel, u.Pending, u.Parked, u.Reason))
		}
		return fmt.Errorf("alerts left undelivered: %s", strings.Join(parts, "; "))
	}
	return nil
}

// scratchCopy is a throwaway copy of the database for --dry-run: the run
// knows what was seen before, and writes nothing that lasts.
func (a *app) scratchCopy(cfg *config.Config) (*store.Store, error) {
	dir, err := os.MkdirTemp("", "policywire-dry-run-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "policywire.db")
	if _, statErr := os.Stat(dbPath(cfg)); statErr == nil {
		out, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		if err := backupTo(context.Background(), cfg, out); err != nil {
			out.Close()
			return nil, err
		}
		if err := out.Close(); err != nil {
			return nil, err
		}
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return nil, err
	}
	// The scratch copy goes when the process ends.
	_ = os.RemoveAll(dir)
	return st, nil
}

func channelNames(cfg *config.Config) map[string]string {
	names := map[string]string{}
	for _, ch := range cfg.Channels {
		names[ch.Target()] = fmt.Sprintf("%s (%s %s)", ch.ID, ch.Platform(), ch.Target())
	}
	return names
}

// runDaemon is `run`: it holds the database until SIGINT/SIGTERM.
func (a *app) runDaemon(ctx context.Context, cfg *config.Config, f runFlags) error {
	logger := a.logger(cfg)
	applyMemoryLimit(logger)
	logConfigWarnings(logger, cfg)
	st, err := openStore(cfg, false, 2*time.Second)
	if err != nil {
		return lockedHint(err)
	}
	defer st.Close()
	metrics := bot.NewMetrics(st)
	d := &bot.Daemon{Logger: logger}
	slackCommands := &lateHandler{}

	// HTTP comes up first: /healthz answers and /readyz says 503 while the
	// search index is opened (or rebuilt) and the chat servers are reached.
	metricsHandler := promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{})
	stopHTTP, shutdownHTTP, err := listenHTTP(cfg.HTTP, a.httpHandler(d, slackCommands, cfg), metricsHandler, logger)
	if err != nil {
		return err
	}
	defer stopHTTP()

	fetcher := newFetcher(cfg, logger)
	defer fetcher.Close()
	senders, mx, _, err := newSenders(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if mx != nil {
		defer mx.Close()
	}
	idx, err := openIndex(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	defer idx.Close()
	b, err := bot.New(bot.Options{
		Config: cfg, Store: st, Fetcher: fetcher, Summarizer: newSummarizer(cfg, fetcher, st, logger),
		Senders: senders, Index: idx, Logger: logger,
		OnPoll: metrics.ObservePoll, OnDelivery: metrics.ObserveDelivery,
	})
	if err != nil {
		return err
	}
	defer b.Close()
	d.Bot = b
	commands := &bot.Commands{Bot: b, Searcher: b.FreshSearcher(idx)}
	slackCommands.set(a.slackCommandHandler(commands, cfg))

	// Work stops on the first signal; a second one ends the process at once.
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	go func() {
		<-ctx.Done()
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}()

	ctl, err := control.Listen(control.SocketPath(cfg.DataDir), controlHandler(b, st, idx))
	if err != nil {
		return err
	}
	a.roomsChanged = make(chan struct{}, 1)
	extras := a.startChat(workCtx, cfg, b, commands, mx, st, logger)

	reloads := a.watchReloads(workCtx, cfg, logger)
	reloaded := make(chan struct{})
	go func() {
		defer close(reloaded)
		for range reloads {
			newCfg, err := a.loadConfig()
			if err != nil {
				logger.Error("config reload refused; the running config stays", "err", err.Error())
				_ = b.Notify(workCtx, "Config reload refused; the running config stays:\n"+err.Error())
				continue
			}
			if err := d.Reload(newCfg); err != nil {
				logger.Error("config reload failed", "err", err)
				continue
			}
			logger.Info("config reloaded", "sources", len(newCfg.Sources), "channels", len(newCfg.Channels), "topics", len(newCfg.Topics))
			select {
			case a.roomsChanged <- struct{}{}:
			default: // a wake-up is already pending
			}
		}
	}()

	logger.Info("policywire running", "sources", len(cfg.Sources), "channels", len(cfg.Channels), "data_dir", cfg.DataDir)
	runErr := d.Run(workCtx, f.shutdown)
	// Run returns before a signal only when it could not start.
	failedToStart := workCtx.Err() == nil
	stopWork()
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	shutdownHTTP(shutCtx)
	_ = ctl.Close(shutCtx)
	extras.Wait()
	<-reloaded
	if failedToStart {
		return runErr
	}
	if runErr != nil {
		logger.Warn("shutdown", "err", runErr)
	}
	return nil
}

// watchReloads sends on the returned channel on SIGHUP and, debounced, when
// the config file changes; the channel is closed when ctx ends.
func (a *app) watchReloads(ctx context.Context, cfg *config.Config, logger interface {
	Warn(string, ...any)
}) <-chan struct{} {
	out := make(chan struct{}, 1)
	poke := func() {
		select {
		case out <- struct{}{}:
		default:
		}
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		logger.Warn("config file not watched; reload with SIGHUP", "err", err)
	} else if err := watcher.Add(filepath.Dir(cfg.Path)); err != nil {
		logger.Warn("config file not watched; reload with SIGHUP", "err", err)
	}
	go func() {
		defer close(out)
		defer signal.Stop(hup)
		var events <-chan fsnotify.Event
		if watcher != nil {
			defer watcher.Close()
			events = watcher.Events
		}
		var debounce <-chan time.Time
		target := filepath.Clean(cfg.Path)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				poke()
			case ev, ok := <-events:
				if !ok {
					events = nil
					continue
				}
				// Editors replace the file (rename, create): watch the folder
				// and react to anything that touches the file's name.
				if filepath.Clean(ev.Name) == target && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename) != 0 {
					debounce = time.After(500 * time.Millisecond)
				}
			case <-debounce:
				debounce = nil
				poke()
			}
		}
	}()
	return out
}

// httpHandler serves the probes and the Slack endpoint; listenHTTP adds
// /metrics.
func (a *app) httpHandler(d *bot.Daemon, slackCommands http.Handler, cfg *config.Config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if problem := d.Problem(); problem != "" {
			http.Error(w, "not ready: "+problem, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if cfg.Slack != nil && cfg.Slack.SigningSecret.Value() != "" {
		mux.Handle("POST /slack/commands", slackCommands)
		mux.Handle("POST /slack/interactions", slackCommands)
	}
	return mux
}

// lateHandler answers 503 until the handler it stands for is set: the
// HTTP server starts before the parts behind some of its paths.
type lateHandler struct{ h atomic.Pointer[http.Handler] }

func (l *lateHandler) set(h http.Handler) {
	if h != nil {
		l.h.Store(&h)
	}
}

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := l.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// applyMemoryLimit gives the process its soft memory limit and says which.
func applyMemoryLimit(logger *slog.Logger) {
	limit, from := memlimit.Apply()
	source := string(from)
	if from == memlimit.FromDefault {
		source = "default; GOMEMLIMIT sets another"
	}
	if memlimit.Unlimited(limit) {
		logger.Info("no soft memory limit", "from", source)
		return
	}
	logger.Info("soft memory limit", "mib", limit>>20, "from", source)
}

// logConfigWarnings repeats at start what `check` warns about.
func logConfigWarnings(logger *slog.Logger, cfg *config.Config) {
	for _, w := range cfg.Warnings {
		logger.Warn("config", "warning", w)
	}
}
