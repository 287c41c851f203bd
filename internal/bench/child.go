package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// Spawner starts a fixture server for cfg and returns its base URL and a
// function that stops it and says how much CPU time the server used (zero
// when it shares the bench's process).
type Spawner func(ctx context.Context, cfg FixtureConfig) (baseURL string, stop func() (time.Duration, error), err error)

// inProcess runs the fixture server inside the bench's process: simple,
// but its CPU time and memory count in the figures. Tests use it.
func inProcess(_ context.Context, cfg FixtureConfig) (string, func() (time.Duration, error), error) {
	f, err := StartFixtures(cfg)
	if err != nil {
		return "", nil, err
	}
	return f.URL(), func() (time.Duration, error) { return 0, f.Close() }, nil
}

// fixtureReady is the line a child fixture server prints first.
const fixtureReady = "fixtures listening on "

// ChildProcess runs the fixture server in a child process, so that the
// bench's CPU time and memory are the pipeline's alone. argv is the command
// that runs ServeFixtures (for policywire: the executable, "bench",
// "fixtures"); the flags --sources, --seed and --epoch are appended. The
// child stops when its standard input closes.
func ChildProcess(argv ...string) Spawner {
	return func(ctx context.Context, cfg FixtureConfig) (string, func() (time.Duration, error), error) {
		if len(argv) == 0 {
			return "", nil, errors.New("bench: fixture command is empty")
		}
		args := append(append([]string{}, argv[1:]...),
			"--sources", strconv.Itoa(cfg.Sources),
			"--seed", strconv.FormatUint(cfg.Seed, 10),
			"--epoch", cfg.Epoch.UTC().Format(time.RFC3339Nano))
		cmd := exec.Command(argv[0], args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return "", nil, fmt.Errorf("bench: fixture process: %w", err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return "", nil, fmt.Errorf("bench: fixture process: %w", err)
		}
		var stderr strings.Builder
		cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
		if err := cmd.Start(); err != nil {
			return "", nil, fmt.Errorf("bench: start fixture process: %w", err)
		}
		stop := func() (time.Duration, error) {
			stdin.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				err = <-done
			}
			var cpu time.Duration
			if cmd.ProcessState != nil {
				cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			}
			if err != nil {
				return cpu, fmt.Errorf("bench: fixture process: %w: %s", err, strings.TrimSpace(stderr.String()))
			}
			return cpu, nil
		}
		lines := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			if sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
			_, _ = io.Copy(io.Discard, stdout)
		}()
		select {
		case line, ok := <-lines:
			if ok && strings.HasPrefix(line, fixtureReady) {
				return strings.TrimPrefix(line, fixtureReady), stop, nil
			}
			_, err := stop()
			return "", nil, fmt.Errorf("bench: fixture process did not start (said %q): %v", line, err)
		case <-ctx.Done():
			_, _ = stop()
			return "", nil, ctx.Err()
		case <-time.After(30 * time.Second):
			_, err := stop()
			return "", nil, fmt.Errorf("bench: fixture process did not start within 30s: %v", err)
		}
	}
}

// ServeFixtures is the child side of ChildProcess: it serves the fixtures
// of cfg, prints the ready line with the URL to out, and returns when ctx
// ends or in reaches its end.
func ServeFixtures(ctx context.Context, cfg FixtureConfig, in io.Reader, out io.Writer) error {
	f, err := StartFixtures(cfg)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, fixtureReady+f.URL()); err != nil {
		f.Close()
		return fmt.Errorf("bench: fixtures: %w", err)
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(eof)
	}()
	select {
	case <-ctx.Done():
	case <-eof:
	}
	return f.Close()
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.n -= k
		_, _ = l.w.Write(p[:k])
	}
	return len(p), nil
}
