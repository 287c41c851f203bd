package demo

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestDemoProcess runs the policywire binary as a user would, in a network
// namespace that has only loopback when the system allows one, to show
// that the demo needs no network.
func TestDemoProcess(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "policywire")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/policywire")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/policywire: %v\n%s", err, out)
	}
	isolate := loopbackOnly(t)

	run := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		argv := append([]string{bin}, args...)
		if isolate {
			argv = []string{"unshare", "-rn", "sh", "-c", `ip link set lo up && exec "$@"`, "sh", bin}
			argv = append(argv, args...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir}
		cmd.Stdin = strings.NewReader(stdin)
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
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := run("", "demo", "--no-prompt")
	if code != 0 {
		t.Fatalf("policywire demo --no-prompt exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "\n▌ "); n != 12 || !strings.Contains(out, "12 alerts to 2 channels from 5 sources.") {
		t.Errorf("want 12 alerts printed, got %d:\n%s", n, out)
	}
	if strings.Contains(out, "\x1b[") || strings.Contains(out, "search> ") {
		t.Errorf("output to a pipe has colour or a prompt:\n%s", out)
	}
	if errOut != "" {
		t.Errorf("stderr:\n%s", errOut)
	}

	code, out, _ = run("\"tech ambassador\"\n", "demo")
	if code != 0 || !strings.Contains(out, "search> Best matches for \"tech ambassador\":\n 1. ") {
		t.Errorf("piped query: exit %d, output:\n%s", code, out)
	}

	code, _, errOut = run("", "demo", "extra")
	if code != 2 || !strings.Contains(errOut, "unknown command") && !strings.Contains(errOut, "accepts 0 arg") {
		t.Errorf("demo with an argument: exit %d (want 2), stderr:\n%s", code, errOut)
	}

	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		if e.Name() != "policywire" {
			t.Errorf("the demo left %s behind", e.Name())
		}
	}
}

// loopbackOnly reports whether commands can run in a fresh network
// namespace with only loopback up (Linux with user namespaces).
func loopbackOnly(t *testing.T) bool {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Log("no network namespaces here: running the demo on the host network")
		return false
	}
	if err := exec.Command("unshare", "-rn", "sh", "-c", "ip link set lo up").Run(); err != nil {
		t.Logf("cannot make a loopback-only network namespace (%v): running the demo on the host network", err)
		return false
	}
	return true
}
