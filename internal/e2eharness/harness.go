// Package e2eharness runs the real policywire binary for process-level
// tests: it builds the binary once per test binary, writes configs into a
// scratch directory, runs one-shot commands, starts the daemon as a child
// process with its output captured (and shown when a test fails), sends it
// signals, kills it, reads its JSON log, its HTTP endpoints and
// `policywire sources --json`, and serves generated feeds. It is imported
// by test code only and knows policywire only from the outside: the
// command line, the config format, the log and the HTTP endpoints.
package e2eharness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/testenv"
)

// Binary is the policywire executable, built on first use and removed when
// the test binary ends. Declare one per test package:
//
//	var policywire e2eharness.Binary
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		policywire.Remove()
//		os.Exit(code)
//	}
//
// It is built without -race: the child processes are the product as
// shipped; the tests themselves run with -race.
type Binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Remove deletes the built binary; call it after the tests ran.
func (b *Binary) Remove() {
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// Path returns the binary, building it on the first call; a failed build
// fails the test.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "policywire-e2e-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "policywire")
		// goolm, as `make build` does: the binary encrypts Matrix rooms.
		cmd := exec.Command("go", "build", "-tags", "goolm", "-o", b.path, "./cmd/policywire")
		cmd.Dir = testenv.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("e2eharness: go build -tags goolm ./cmd/policywire: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// Env is one installation of policywire: a directory holding the config
// file and the data directory, and the environment the commands run with.
type Env struct {
	t   testing.TB
	Bin string
	// Dir is the working directory of every command; the data directory
	// is Dir/data and the config Dir/config.yaml.
	Dir string
	// Vars are extra environment variables (NAME=value) for every command.
	Vars []string
}

// NewEnv makes a fresh installation in a temporary directory.
func NewEnv(t testing.TB, bin string) *Env {
	t.Helper()
	return &Env{t: t, Bin: bin, Dir: t.TempDir()}
}

// DataDir is where the database, the index and the control socket live.
func (e *Env) DataDir() string { return filepath.Join(e.Dir, "data") }

// ConfigPath is the config file the commands read.
func (e *Env) ConfigPath() string { return filepath.Join(e.Dir, "config.yaml") }

// WriteConfig replaces the config file. It writes a temporary file and
// renames it over the config, as editors and deploy tools do, so that a
// watching daemon never reads half a file.
func (e *Env) WriteConfig(yaml string) {
	e.t.Helper()
	tmp := e.ConfigPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.ConfigPath()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *Env) command(ctx context.Context, args []string) *exec.Cmd {
	full := append([]string{args[0], "-c", e.ConfigPath()}, args[1:]...)
	cmd := exec.CommandContext(ctx, e.Bin, full...)
	cmd.Dir = e.Dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.Dir, "TMPDIR=" + os.TempDir()}, e.Vars...)
	return cmd
}

// Result is how a command ended.
type Result struct {
	Args           []string
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("policywire %s: exit %d after %s\n--- stdout:\n%s\n--- stderr:\n%s",
		strings.Join(r.Args, " "), r.Code, r.Took.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// Run runs a command (its first argument is the subcommand; -c is added)
// to completion, at most timeout.
func (e *Env) Run(timeout time.Duration, args ...string) Result {
	e.t.Helper()
	return e.RunInput(timeout, "", args...)
}

// RunInput is Run with stdin as the command's standard input.
func (e *Env) RunInput(timeout time.Duration, stdin string, args ...string) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := e.command(ctx, args)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := Result{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.t.Fatalf("still running after %s\n%s", timeout, r)
	case errors.As(err, &exitErr):
		r.Code = exitErr.ExitCode()
	case err != nil:
		e.t.Fatalf("policywire %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// Sources runs `policywire sources --json` and decodes the report; a
// failing command fails the test.
func (e *Env) Sources() bot.HealthReport {
	e.t.Helper()
	r := e.Run(20*time.Second, "sources", "--json")
	if r.Code != 0 {
		e.t.Fatalf("sources failed\n%s", r)
	}
	var rep bot.HealthReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		e.t.Fatalf("sources --json: %v\n%s", err, r)
	}
	return rep
}

// Proc is a policywire process started in the background.
type Proc struct {
	t      testing.TB
	Args   []string
	cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
	waited error
}

// Start starts a command in the background. When the test ends it is
// killed if still running, and its output is shown if the test failed.
func (e *Env) Start(args ...string) *Proc {
	e.t.Helper()
	cmd := e.command(context.Background(), args)
	p := &Proc{t: e.t, Args: args, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start policywire %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := cmd.Wait()
		var exitErr *exec.ExitError
		switch {
		case errors.As(err, &exitErr):
			p.code = exitErr.ExitCode()
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				p.code = 128 + int(ws.Signal())
			}
		case err != nil:
			p.waited = err
			p.code = -1
		}
		close(p.done)
	}()
	e.t.Cleanup(func() {
		if p.Running() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		if e.t.Failed() {
			e.t.Logf("policywire %s (pid %d, exit %d)\n--- stdout:\n%s\n--- stderr:\n%s",
				strings.Join(args, " "), cmd.Process.Pid, p.code, tail(p.stdout.String(), 60), tail(p.stderr.String(), 120))
		}
	})
	return p
}

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stdout is what the process wrote to stdout so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr is what the process wrote to stderr so far (the log).
func (p *Proc) Stderr() string { return p.stderr.String() }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v to pid %d: %v", sig, p.Pid(), err)
	}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Proc) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		p.t.Fatalf("kill pid %d: %v", p.Pid(), err)
	}
	<-p.done
}

// Wait waits at most timeout for the process to exit and returns its exit
// code (128+signal when a signal ended it) and how long the wait took; a
// process still running after timeout fails the test.
func (p *Proc) Wait(timeout time.Duration) (int, time.Duration) {
	p.t.Helper()
	start := time.Now()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("policywire %s still running after %s", strings.Join(p.Args, " "), timeout)
	}
	if p.waited != nil {
		p.t.Fatalf("waiting for policywire: %v", p.waited)
	}
	return p.code, time.Since(start)
}

// LogRecord is one line of the JSON log.
type LogRecord map[string]any

// Msg is the record's message.
func (r LogRecord) Msg() string { s, _ := r["msg"].(string); return s }

// Level is the record's level (INFO, WARN, ...).
func (r LogRecord) Level() string { s, _ := r["level"].(string); return s }

// Str is a string attribute ("" when absent or not a string).
func (r LogRecord) Str(key string) string { s, _ := r[key].(string); return s }

// Has reports whether the record carries the attribute.
func (r LogRecord) Has(key string) bool { _, ok := r[key]; return ok }

// Logs parses the JSON log written to stderr so far; lines that are not
// JSON (a panic, a usage message) are skipped.
func (p *Proc) Logs() []LogRecord {
	var out []LogRecord
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r LogRecord
		if json.Unmarshal(line, &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// FindLogs returns the records that match.
func (p *Proc) FindLogs(match func(LogRecord) bool) []LogRecord {
	var out []LogRecord
	for _, r := range p.Logs() {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// WaitLog waits at most timeout for a record that matches and returns the
// first one; the process exiting first, or the time running out, fails
// the test.
func (p *Proc) WaitLog(timeout time.Duration, what string, match func(LogRecord) bool) LogRecord {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rs := p.FindLogs(match); len(rs) > 0 {
			return rs[0]
		}
		if !p.Running() {
			p.t.Fatalf("policywire exited (code %d) before logging %s", p.code, what)
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no log of %s within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// HTTPAddr waits for the daemon to log the address it listens on and
// returns it as a base URL ("http://127.0.0.1:PORT").
func (p *Proc) HTTPAddr(timeout time.Duration) string {
	p.t.Helper()
	r := p.WaitLog(timeout, "its HTTP address", func(r LogRecord) bool { return r.Msg() == "http listening" })
	return "http://" + r.Str("addr")
}

// WaitReady waits for /readyz at base to answer 200.
func (p *Proc) WaitReady(base string, timeout time.Duration) {
	p.t.Helper()
	Eventually(p.t, timeout, "/readyz to answer 200", func() bool {
		if !p.Running() {
			p.t.Fatalf("policywire exited (code %d) before it was ready", p.code)
		}
		code, _ := Get(base + "/readyz")
		return code == http.StatusOK
	})
}

// Get fetches url with a short timeout and returns the status and body
// (status 0 when the request failed).
func Get(url string) (int, string) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// Eventually polls cond every 20 ms until it holds; after timeout the test
// fails naming what was awaited.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) <= n {
		return strings.Join(lines, "\n")
	}
	return fmt.Sprintf("[... %d lines ...]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}
