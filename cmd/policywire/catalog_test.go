package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/policywire/policywire/internal/slackfake"
	"github.com/policywire/policywire/internal/testenv"
)

// catalogOffline points every source of a config written by
// init --catalog at its catalog fixture on a loopback server, and the
// chat platforms at local fakes, so the config runs here.
func catalogOffline(t *testing.T, path string, fx *testenv.FixtureServer, slackURL string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "catalog", "testdata", "fixtures.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	if err := yaml.Unmarshal(data, &files); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(text)
	id := ""
	lines := strings.Split(s, "\n")
	for i, line := range lines {
		if m := regexp.MustCompile(`^\s+- id: (\S+)`).FindStringSubmatch(line); m != nil {
			id = m[1]
		}
		if m := regexp.MustCompile(`^(\s+url: )(https://\S+)$`).FindStringSubmatch(line); m != nil && files[id] != "" {
			body, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), files[id]))
			if err != nil {
				t.Fatal(err)
			}
			lines[i] = m[1] + fx.ServeAs(m[2], body, testenv.ContentTypeFor(files[id]))
		}
	}
	s = strings.Join(lines, "\n")
	for from, to := range map[string]string{
		"allow_private: false":       "allow_private: true",
		"host_delay: 2s":             "host_delay: 0s",
		"backfill: 72h":              "backfill: 0",
		"https://matrix.example.org": "http://127.0.0.1:1",
		`api_url: ""`:                `api_url: "` + slackURL + `"`,
		"listen: 127.0.0.1:8080":     `listen: ""`,
	} {
		if !strings.Contains(s, from) {
			t.Fatalf("the config written by init no longer holds %q; update this test", from)
		}
		s = strings.ReplaceAll(s, from, to)
	}
	if strings.Contains(s, "url: https://") {
		t.Fatalf("a source was left pointing at the internet:\n%s", s)
	}
	writeFile(t, path, s)
}

func TestInitFromTheCatalogRunsAgainstTheFixtures(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, nil, "init", "--catalog", "eu")
	if r.code != 0 {
		t.Fatalf("init --catalog eu: exit %d: %s", r.code, r.stderr)
	}
	path := filepath.Join(dir, "config.yaml")
	written, _ := os.ReadFile(path)
	for _, want := range []string{"# European Union\n  - id: council-press\n", "  - id: enisa-news\n", "sources: [council-press, eeas-press]"} {
		if !strings.Contains(string(written), want) {
			t.Errorf("the config lacks %q", want)
		}
	}
	if strings.Contains(string(written), "state-press") {
		t.Errorf("init --catalog eu wrote a source outside the EU")
	}
	if r := runBinary(t, dir, exampleEnv, "check"); r.code != 0 || !strings.Contains(r.stdout, "ok: 10 sources, 2 topics, 2 channels") {
		t.Fatalf("check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	fx := testenv.NewFixtureServer(t)
	fake := slackfake.New(t)
	catalogOffline(t, path, fx, fake.URL())
	if r := runBinary(t, dir, exampleEnv, "check"); r.code != 0 {
		t.Fatalf("check of the offline config: exit %d: %s", r.code, r.stderr)
	}
	r = runBinary(t, dir, exampleEnv, "run", "--once", "--dry-run")
	if r.code != 0 {
		t.Fatalf("run --once --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Alerts from the feeds and from the html listings both come through.
	for _, want := range []string{
		"Digital diplomacy: Council approves conclusions", // Council RSS
		"digital diplomacy", // the EEAS listing
		"Foreign Affairs Committee backs report on the EU's digital diplomacy", // AFET RSS
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the dry run does not show %q\n%s", want, r.stdout)
		}
	}
	if n := len(fake.AllPosts()); n != 0 {
		t.Errorf("a dry run posted %d messages", n)
	}
}

func TestCatalogVerifyReportsBrokenSources(t *testing.T) {
	dir := t.TempDir()
	if r := runBinary(t, dir, nil, "init", "--catalog", "eu"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	fx := testenv.NewFixtureServer(t)
	path := filepath.Join(dir, "config.yaml")
	catalogOffline(t, path, fx, "http://127.0.0.1:1")
	r := runBinary(t, dir, exampleEnv, "catalog", "verify", "--from-config")
	if r.code != 0 || !strings.Contains(r.stdout, "All 10 parse.") {
		t.Fatalf("verify of working sources: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// ENISA redesigns its news page.
	fx.ServeAs("https://www.enisa.europa.eu/news", []byte(`<!DOCTYPE html><html lang="en"><head><title>News | ENISA</title></head><body><main><ul class="news"><li><a href="/news/a">Something new</a></li></ul></main></body></html>`), "text/html")
	r = runBinary(t, dir, exampleEnv, "catalog", "verify", "--from-config")
	if r.code != 1 || !strings.Contains(r.stdout, "1 of 10 no longer parse.") {
		t.Fatalf("verify with a broken source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "enisa-news ") && !strings.Contains(line, "FAILED") {
			t.Errorf("enisa-news should be FAILED: %q", line)
		}
		if strings.HasPrefix(line, "council-press ") && !strings.Contains(line, " ok ") {
			t.Errorf("council-press should be ok: %q", line)
		}
	}
}

func TestCatalogListAndShow(t *testing.T) {
	dir := t.TempDir()
	r := runBinary(t, dir, nil, "catalog", "--lang", "de")
	if r.code != 0 || !strings.Contains(r.stdout, "auswaertiges-amt  de") || !strings.Contains(r.stdout, "1 entry.") || strings.Contains(r.stdout, "council-press") {
		t.Errorf("catalog --lang de: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runBinary(t, dir, nil, "catalog", "--kind", "civil-society")
	if r.code != 0 || !strings.Contains(r.stdout, "paris-call") || !strings.Contains(r.stdout, "3 entries.") {
		t.Errorf("catalog --kind civil-society: exit %d\n%s", r.code, r.stdout)
	}
	r = runBinary(t, dir, nil, "catalog", "show", "eeas-press")
	if r.code != 0 || !strings.Contains(r.stdout, "  - id: eeas-press\n") || !strings.Contains(r.stdout, "item: .view-content .card") {
		t.Errorf("catalog show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runBinary(t, dir, nil, "catalog", "show", "nope"); r.code != 2 || !strings.Contains(r.stderr, "entries: council-press,") {
		t.Errorf("show of an unknown id: exit %d %s", r.code, r.stderr)
	}
	if r := runBinary(t, dir, nil, "init", "--catalog", "eu,mars"); r.code != 2 || !strings.Contains(r.stderr, `"mars"`) {
		t.Errorf("init with an unknown region: exit %d %s", r.code, r.stderr)
	}
}
