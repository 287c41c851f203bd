package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/topics/packs"
)

// Exit codes of the process.
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed
	exitInvalid = 2 // bad usage or invalid config
)

// configEnv names the variable that gives the config file when -c is not used.
const configEnv = "POLICYWIRE_CONFIG"

// commandConstructors lists every subcommand. To add a command, write
// newXxxCmd(a *app) *cobra.Command in its own file and add it here. A
// command's RunE returns nil, an error (exit 1: the work failed), or
// usageError/exitError for another exit code; errors from a.loadConfig
// already carry exit code 2.
func commandConstructors() []func(*app) *cobra.Command {
	return []func(*app) *cobra.Command{
		newCheckCmd,
		newInitCmd,
		newVersionCmd,
		newRunCmd,
		newTryCmd,
		newDiscoverCmd,
		newCatalogCmd,
		newPacksCmd,
		newSourcesCmd,
		newSearchCmd,
		newBackupCmd,
		newReindexCmd,
		newDemoCmd,
		newBenchCmd,
		newMatrixCmd,
	}
}

// app is what every command shares: the standard streams, the environment
// and the global flags. Commands read the config and make their logger
// through it, so tests can run the whole CLI in-process.
type app struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	lookupEnv func(string) (string, bool)

	configPath string // -c/--config as given; see configFile
	verbose    int    // number of -v flags

	// started is set when a command's own code begins; an error before
	// that comes from cobra's parsing and means bad usage.
	started bool

	// roomsChanged wakes the Matrix listener after a reload, so that a
	// room the new config adds is joined at once.
	roomsChanged chan struct{}
}

// run executes the command line args (args[0] is the program name) and
// returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, lookupEnv: os.LookupEnv}
	root := a.rootCmd()
	root.SetArgs(args[1:])
	return a.exitCode(root.ExecuteContext(ctx))
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "policywire",
		Short: "Policy-news alerts for Slack and Matrix",
		Long: "policywire polls EU and government publications, keeps what it has seen,\n" +
			"and posts each new item once to the Slack channels and Matrix rooms whose\n" +
			"topics it matches.",
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Usage()
			return usageError(errors.New("no command given"))
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentFlags().StringVarP(&a.configPath, "config", "c", "", "config file (default $"+configEnv+", then ./config.yaml)")
	root.PersistentFlags().CountVarP(&a.verbose, "verbose", "v", "log more: -v debug, -vv with source lines")
	root.CompletionOptions.DisableDefaultCmd = true
	for _, newCmd := range commandConstructors() {
		root.AddCommand(newCmd(a))
	}
	a.markStarts(root)
	return root
}

// markStarts wraps each command's RunE so a.started tells errors of the
// command's own work from errors of argument parsing.
func (a *app) markStarts(cmd *cobra.Command) {
	if inner := cmd.RunE; inner != nil {
		cmd.RunE = func(c *cobra.Command, args []string) error {
			a.started = true
			return inner(c, args)
		}
	}
	for _, sub := range cmd.Commands() {
		a.markStarts(sub)
	}
}

// exitError ends the process with code; err, when set, is printed first.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is bad usage: exit code 2.
func usageError(err error) error { return &exitError{code: exitInvalid, err: err} }

// exitCode prints err the way a user should see it and maps it to the
// process exit code.
func (a *app) exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var errs config.Errors
	if errors.As(err, &errs) {
		fmt.Fprintln(a.stderr, errs.Error())
		return exitInvalid
	}
	code := exitFailed
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
		if ee.err == nil {
			return code
		}
	case !a.started:
		// cobra's own errors: unknown command, flag or arguments.
		code = exitInvalid
	}
	fmt.Fprintf(a.stderr, "policywire: %v\n", err)
	if code == exitInvalid && !a.started {
		fmt.Fprintln(a.stderr, "Run 'policywire --help' for usage.")
	}
	return code
}

// configFile is the config path to use and where that choice came from.
func (a *app) configFile() (path, origin string) {
	if a.configPath != "" {
		return a.configPath, "given with -c"
	}
	if v, ok := a.lookupEnv(configEnv); ok && strings.TrimSpace(v) != "" {
		return v, "from $" + configEnv
	}
	return "config.yaml", "the default; set -c or $" + configEnv + " to use another"
}

// loadConfig reads and validates the config file. Every error it returns
// ends the process with exit code 2.
func (a *app) loadConfig() (*config.Config, error) {
	path, origin := a.configFile()
	cfg, err := config.Load(path,
		config.WithLookupEnv(a.lookupEnv),
		config.WithQueryCheck(queryCheck),
		config.WithTopicPacks(packs.Queries()),
		config.WithLinkCheck(sources.CheckLinkTemplate),
		config.WithVersion(buildVersion()),
	)
	var errs config.Errors
	switch {
	case err == nil:
		return cfg, nil
	case errors.As(err, &errs):
		return nil, &exitError{code: exitInvalid, err: errs}
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageError(fmt.Errorf("config file %s (%s) does not exist; write one with 'policywire init'", path, origin))
	default:
		return nil, usageError(fmt.Errorf("config file %s (%s): %w", path, origin, err))
	}
}

// logger is the process logger for cfg (nil before a config is loaded):
// level from log.level unless -v asks for debug, on stderr.
func (a *app) logger(cfg *config.Config) *slog.Logger {
	level, format := config.DefaultLogLevel, config.DefaultLogFormat
	if cfg != nil {
		level, format = cfg.Log.Level, cfg.Log.Format
	}
	if a.verbose > 0 {
		level = "debug"
	}
	return newLogger(a.stderr, level, format, a.verbose > 1)
}
