package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
)

// binary is the policywire executable built once for the process tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "policywire-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "policywire")
	build := exec.Command("go", "build", "-o", binary, "-ldflags", "-X main.version=9.9.9-test -X main.commit=abc1234", ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building policywire:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// runBinary runs policywire in dir with only the given environment
// (plus PATH and HOME), so the caller's variables cannot leak in.
func runBinary(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

var exampleEnv = map[string]string{
	"SLACK_BOT_TOKEN":      "xoxb-test-token-value",
	"SLACK_SIGNING_SECRET": "signing-secret-value",
	"MATRIX_ACCESS_TOKEN":  "syt_test_token_value",
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckValid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.yaml"), string(policywire.ExampleConfig))
	r := runBinary(t, dir, exampleEnv, "check")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	if want := "config.yaml: ok: 10 sources, 2 topics, 2 channels\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestCheckInvalid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "bad.yaml"), `timezone: Mars/Olympus
fetch:
  timeout: soon
topics:
  cyber:
    query: 'cyber AND (security OR'
sources:
  - id: council
    url: https://example.org/feed
    schedual: "@hourly"
slack:
  bot_token: ${SLACK_BOT_TOKEN}
channels:
  - id: desk
    slack: C0123ABCDEF
    topics: [cyber, nope]
`)
	r := runBinary(t, dir, exampleEnv, "check", "-c", "bad.yaml")
	if r.code != 2 {
		t.Fatalf("exit %d, want 2\nstderr: %s", r.code, r.stderr)
	}
	// The topic with the bad query still counts as defined: the channel
	// naming it gets no second error.
	want := `bad.yaml:1:11: timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Brussels or UTC)
bad.yaml:3:12: fetch.timeout: expected a duration such as 30s, 15m or 72h, got "soon"
bad.yaml:6:33: topic "cyber": query: OR needs a term after it
bad.yaml:10:5: unknown key "schedual" in source "council" (did you mean "schedule"?)
bad.yaml:16:21: channel "desk": unknown topic "nope" (known topics: cyber)
`
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	if strings.Contains(r.stderr, exampleEnv["SLACK_BOT_TOKEN"]) {
		t.Error("stderr shows the token")
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
}

// A token written in the file passes check (exit 0), with a warning that
// says where it is and how to move it out, and never shows it.
func TestCheckWarnsAboutALiteralToken(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.yaml"), `slack:
  bot_token: xoxb-literal-token-value
channels:
  - id: desk
    slack: C0123ABCDEF
`)
	r := runBinary(t, dir, nil, "check")
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr: %s", r.code, r.stderr)
	}
	want := "config.yaml:2:14: warning: slack.bot_token is written in the config file: give it as ${VAR} or in a file named by slack.bot_token_file, so that it stays out of the file, its backups and its history\n"
	if r.stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
	}
	if strings.Contains(r.stderr+r.stdout, "xoxb-literal") {
		t.Error("the token is shown")
	}
}

func TestCheckMissingFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"default", nil, []string{"check"}, "config file config.yaml (the default; set -c or $POLICYWIRE_CONFIG to use another) does not exist"},
		{"env", map[string]string{"POLICYWIRE_CONFIG": "/etc/pw/pw.yaml"}, []string{"check"}, "config file /etc/pw/pw.yaml (from $POLICYWIRE_CONFIG) does not exist"},
		{"flag wins over env", map[string]string{"POLICYWIRE_CONFIG": "/etc/pw/pw.yaml"}, []string{"check", "--config", "mine.yaml"}, "config file mine.yaml (given with -c) does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, dir, tc.env, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not say %q", r.stderr, tc.want)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "elsewhere.yaml")
	writeFile(t, path, "sources:\n  - id: a\n    url: https://example.org/feed\n")
	r := runBinary(t, t.TempDir(), map[string]string{"POLICYWIRE_CONFIG": path}, "check")
	if r.code != 0 || r.stdout != path+": ok: 1 source, 0 topics, 0 channels\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestInit(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, nil, "init")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, policywire.ExampleConfig) {
		t.Error("written config differs from the example")
	}
	for _, s := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MATRIX_ACCESS_TOKEN", "policywire check\n", "policywire try council-press\n", "policywire run\n"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("next steps do not mention %q:\n%s", s, r.stdout)
		}
	}
	// The file it wrote is valid once the variables are set.
	if r := runBinary(t, dir, exampleEnv, "check"); r.code != 0 {
		t.Errorf("check of the new file: exit %d: %s", r.code, r.stderr)
	}

	// A second run refuses to overwrite, even an edited file.
	writeFile(t, filepath.Join(dir, "config.yaml"), "# mine\n")
	r = runBinary(t, dir, nil, "init")
	if r.code != 2 {
		t.Errorf("second init: exit %d, want 2", r.code)
	}
	if !strings.Contains(r.stderr, "config.yaml already exists") {
		t.Errorf("stderr: %q", r.stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "config.yaml")); string(data) != "# mine\n" {
		t.Error("init overwrote the file")
	}

	// --output writes elsewhere and the next steps name it.
	r = runBinary(t, dir, nil, "init", "--output", "other.yaml")
	if r.code != 0 || !strings.Contains(r.stdout, "policywire check -c other.yaml") {
		t.Errorf("exit %d, stdout %q", r.code, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.yaml")); err != nil {
		t.Error(err)
	}
}

func TestVersion(t *testing.T) {
	r := runBinary(t, t.TempDir(), nil, "version")
	want := fmt.Sprintf("policywire 9.9.9-test (commit abc1234, %s %s/%s)\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"check", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"unexpected argument", []string{"version", "extra"}, `unknown command "extra"`},
		{"no command", nil, "no command given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runBinary(t, t.TempDir(), nil, tc.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want 2", r.code)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.want)
			}
		})
	}
	r := runBinary(t, t.TempDir(), nil, "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "check") {
		t.Errorf("--help: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestRunInProcess drives run() directly, as other command tests can.
func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	writeFile(t, path, "topics:\n  t:\n    query: 'a OR'\n")
	var stdout, stderr bytes.Buffer
	code := run([]string{"policywire", "check", "-c", path}, strings.NewReader(""), &stdout, &stderr)
	if code != 2 || stderr.String() != path+`:3:15: topic "t": query: OR needs a term after it`+"\n" {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestLogger(t *testing.T) {
	cfg := &config.Config{Log: config.Log{Level: "warn", Format: "auto"}}
	secret := config.Secret("xoxb-never-logged")

	var buf bytes.Buffer
	a := &app{stderr: &buf}
	log := a.logger(cfg)
	log.Info("hidden")
	log.Warn("shown", "token", secret)
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("auto format off a terminal should be JSON at warn: %s", out)
	}
	if strings.Contains(out, "xoxb") || !strings.Contains(out, `"token":"[redacted]"`) {
		t.Errorf("secret not redacted: %s", out)
	}

	buf.Reset()
	a.verbose = 1
	cfg.Log.Format = "text"
	a.logger(cfg).Debug("details", "token", secret)
	if out := buf.String(); !regexp.MustCompile(`level=DEBUG msg=details token=\[redacted\]`).MatchString(out) {
		t.Errorf("-v should log debug as text: %s", out)
	}

	buf.Reset()
	a.verbose = 0
	cfg.Log = config.Log{Level: "error", Format: "json"}
	a.logger(cfg).Warn("quiet")
	a.logger(nil).Info("before config", slog.Any("s", secret))
	if out := buf.String(); strings.Contains(out, "quiet") || !strings.Contains(out, "before config") || strings.Contains(out, "xoxb") {
		t.Errorf("got %s", out)
	}
}
