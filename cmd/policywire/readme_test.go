package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/topics/packs"
)

// readmeBlock is one fenced block of README.md.
type readmeBlock struct {
	lang  string
	lines []string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			if cur == nil {
				cur = &readmeBlock{lang: strings.TrimPrefix(line, "```")}
			} else {
				blocks = append(blocks, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, line)
		}
	}
	return blocks
}

// readmeCommands returns the shell commands of the README's sh and console
// blocks, comments stripped and continuation lines joined.
func readmeCommands(t *testing.T) []string {
	var cmds []string
	for _, b := range readmeBlocks(t) {
		var pending string
		for _, line := range b.lines {
			switch b.lang {
			case "sh":
			case "console":
				if !strings.HasPrefix(line, "$ ") {
					continue
				}
				line = strings.TrimPrefix(line, "$ ")
			default:
				continue
			}
			if i := strings.Index(line, " #"); i >= 0 {
				line = line[:i]
			}
			line = strings.TrimSpace(line)
			if strings.HasSuffix(line, "\\") {
				pending += strings.TrimSuffix(line, "\\") + " "
				continue
			}
			line = strings.Join(strings.Fields(pending+line), " ")
			pending = ""
			if line != "" {
				cmds = append(cmds, line)
			}
		}
	}
	return cmds
}

// offlineConfig turns the example config written by init into one that
// runs here: sources on a loopback fixture server, Slack on a fake, Matrix
// on a closed port, alerts for everything the fixtures hold.
func offlineConfig(t *testing.T, path string, fixtures *testenv.FixtureServer, slackURL, listen string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	replace := map[string]string{
		"https://www.consilium.europa.eu/en/rss/pressreleases.ashx": fixtures.URL + "/council.rss",
		"https://www.eeas.europa.eu/eeas/press-material_en":         fixtures.URL + "/eeas.html",
		"allow_private: false":                                      "allow_private: true",
		"host_delay: 2s":                                            "host_delay: 0s",
		"backfill: 72h":                                             "backfill: 0",
		"https://matrix.example.org":                                "http://127.0.0.1:1",
		`api_url: ""`:                                               `api_url: "` + slackURL + `"`,
		"listen: 127.0.0.1:8080":                                    "listen: " + listen,
	}
	for from, to := range replace {
		if !strings.Contains(s, from) {
			t.Fatalf("the example config no longer holds %q; update this test", from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	// Every other source points at a path the fixture server does not
	// serve: it fails, as a real source may, without leaving the machine.
	s = regexp.MustCompile(`url: https://[^\s]+`).ReplaceAllString(s, "url: "+fixtures.URL+"/not-served")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestREADMECommands runs every command the README gives, in the order a
// newcomer would, and fails on a command it does not know how to check, so
// the README cannot drift from what works.
func TestREADMECommands(t *testing.T) {
	dir := t.TempDir()
	fixtures := testenv.NewFixtureServer(t)
	fixtures.Set("/council.rss", testenv.SourceFixture(t, "council-press.rss"), testenv.ContentTypeFor(".rss"))
	fixtures.Set("/eeas.html", testenv.SourceFixture(t, "eeas-press.html"), testenv.ContentTypeFor(".html"))
	fake := slackfake.New(t)
	listen := freeAddr(t)
	built := filepath.Join(dir, "policywire")
	initialised := false

	run := func(args ...string) result {
		t.Helper()
		r := runBinary(t, dir, exampleEnv, args...)
		return r
	}
	checks := []struct {
		pattern string
		check   func(t *testing.T, cmd string)
	}{
		{`^go run ./cmd/policywire demo$`, func(t *testing.T, _ string) {
			// The prompt ends at EOF: an empty stdin is a newcomer pressing Ctrl-D.
			r := run("demo")
			if r.code != 0 || !strings.Contains(r.stdout, "Also reported by") || !strings.Contains(r.stdout, "search>") {
				t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
		}},
		{`^make test$`, func(t *testing.T, _ string) {
			ci, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), ".ci", "run"))
			if err != nil || !regexp.MustCompile(`(?m)^make test$`).Match(ci) {
				t.Fatalf(".ci/run must run the README's test command (make test): %v", err)
			}
		}},
		{`^go build -tags goolm -o policywire ./cmd/policywire$`, func(t *testing.T, _ string) {
			cmd := exec.Command("go", "build", "-tags", "goolm", "-o", built, "./cmd/policywire")
			cmd.Dir = testenv.RepoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
		}},
		{`^\./policywire init$`, func(t *testing.T, _ string) {
			r := run("init")
			if r.code != 0 {
				t.Fatalf("init: exit %d: %s", r.code, r.stderr)
			}
			offlineConfig(t, filepath.Join(dir, "config.yaml"), fixtures, fake.URL(), listen)
			initialised = true
		}},
		{`^\./policywire check$`, func(t *testing.T, _ string) {
			if r := run("check"); r.code != 0 {
				t.Fatalf("check: exit %d: %s", r.code, r.stderr)
			}
		}},
		{`^\./policywire (catalog --region eu|packs)$`, func(t *testing.T, cmd string) {
			r := run(strings.Fields(cmd)[1:]...)
			if r.code != 0 || !strings.Contains(r.stdout, "council-press") && !strings.Contains(r.stdout, "digital-diplomacy") {
				t.Fatalf("%s: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
			}
		}},
		{`^(\./)?policywire try (council-press|eeas-press)$`, func(t *testing.T, cmd string) {
			r := run(strings.Fields(cmd)[1:]...)
			if r.code != 0 || !strings.Contains(r.stdout, "HTTP 200") || !strings.Contains(r.stdout, "DATE") {
				t.Fatalf("%s: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
			}
		}},
		{`^\./policywire run --once --dry-run$`, func(t *testing.T, _ string) {
			r := run("run", "--once", "--dry-run")
			if r.code != 0 || !strings.Contains(r.stdout, "digital diplomacy") {
				t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if n := len(fake.AllPosts()); n != 0 {
				t.Fatalf("a dry run posted %d messages", n)
			}
		}},
		{`^\./policywire run$`, func(t *testing.T, _ string) {
			cmd := exec.Command(binary, "run")
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
			for k, v := range exampleEnv {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			ready := false
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				resp, err := http.Get("http://" + listen + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						ready = true
						break
					}
				}
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil || !ready {
					t.Fatalf("daemon: ready=%v exit=%v\n%s", ready, err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("daemon did not stop on SIGTERM\n%s", stderr.String())
			}
		}},
		{`^docker (build|run) `, func(t *testing.T, cmd string) {
			// No Docker engine runs here; the command's promises are checked
			// against the Dockerfile instead.
			df, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`ENTRYPOINT ["policywire"]`, `CMD ["run", "-c", "/etc/policywire/config.yaml"]`, "VOLUME", "/data", "USER", "CGO_ENABLED=0", "EXPOSE 8080"} {
				if !strings.Contains(string(df), want) {
					t.Errorf("Dockerfile lacks %q, which `%s` relies on", want, cmd)
				}
			}
		}},
	}
	for _, cmd := range readmeCommands(t) {
		found := false
		for _, c := range checks {
			if regexp.MustCompile(c.pattern).MatchString(cmd) {
				found = true
				if strings.Contains(cmd, "policywire") && !strings.Contains(cmd, "go ") && !strings.Contains(cmd, "docker") && !strings.HasSuffix(cmd, " init") && !initialised {
					t.Fatalf("README runs %q before init", cmd)
				}
				t.Run(cmd, func(t *testing.T) { c.check(t, cmd) })
				break
			}
		}
		if !found {
			t.Errorf("README command %q is not checked by any test; add it to TestREADMECommands", cmd)
		}
	}
}

// TestREADMEQueriesAndYAML checks that every YAML block of the README
// parses and every topic query in it is valid.
func TestREADMEQueriesAndYAML(t *testing.T) {
	n := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" {
			continue
		}
		var doc map[string]any
		text := dedent(b.lines)
		var anyDoc any
		if err := yaml.Unmarshal([]byte(text), &anyDoc); err != nil {
			t.Errorf("README YAML block does not parse: %v\n%s", err, text)
			continue
		}
		doc, _ = anyDoc.(map[string]any)
		if topics, ok := doc["topics"].(map[string]any); ok {
			for id, v := range topics {
				topic, _ := v.(map[string]any)
				if pack, ok := topic["pack"].(string); ok {
					if _, known := packs.Queries()[pack]; !known {
						t.Errorf("README topic %s: unknown pack %q", id, pack)
					}
					if _, hasQuery := topic["query"]; !hasQuery {
						n++
						continue
					}
				}
				q, _ := topic["query"].(string)
				if _, err := query.Parse(q); err != nil {
					t.Errorf("README topic %s: %v", id, err)
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no topic found in the README's YAML blocks")
	}
}

// dedent removes the indentation every non-empty line shares.
func dedent(lines []string) string {
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	var out []string
	for _, l := range lines {
		if len(l) >= indent && indent > 0 {
			l = l[indent:]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
