package config_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/topics/packs"
)

var update = flag.Bool("update", false, "rewrite golden files")

func queryCheck(q string) error {
	_, err := query.ParseTopic(q)
	return err
}

func env(vars map[string]string) config.Option {
	return config.WithLookupEnv(func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
}

var badEnv = map[string]string{
	"POLICYWIRE_TEST_DATA":  "./from-env",
	"POLICYWIRE_TEST_EMPTY": "",
	"POLICYWIRE_TEST_QUERY": "cyber OR",
}

// TestBadConfigs loads every file in testdata/bad and compares the whole
// error output with the .err file next to it.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 25 {
		t.Fatalf("only %d bad configs", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Load(file, env(badEnv), config.WithQueryCheck(queryCheck), config.WithLinkCheck(sources.CheckLinkTemplate), config.WithTopicPacks(packs.Queries()))
			if err == nil {
				t.Fatalf("loaded without error: %+v", cfg)
			}
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is %T, want config.Errors: %v", err, err)
			}
			got := err.Error() + "\n"
			line := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `:\d+:\d+: \S`)
			for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
				if !line.MatchString(l) {
					t.Errorf("line not in FILE:LINE:COL: message form: %q", l)
				}
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func TestAllProblemsReported(t *testing.T) {
	_, err := config.Load("testdata/bad/three-errors.yaml", env(nil))
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v", err)
	}
	if len(errs) != 3 {
		t.Fatalf("got %d errors, want 3:\n%v", len(errs), err)
	}
	wantLines := []int{1, 3, 7}
	for i, e := range errs {
		if e.Line != wantLines[i] {
			t.Errorf("error %d at line %d, want %d: %v", i, e.Line, wantLines[i], e)
		}
	}
}

// TestQueryErrorColumn checks that a query syntax error points at the
// character of the query where the parser stopped, in the file's columns.
func TestQueryErrorColumn(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
	}{
		{"plain", "topics:\n  t:\n    query: cyber AND (security OR\n"},
		{"single", "topics:\n  t:\n    query: 'it''s a (test'\n"},
		{"double", "topics:\n  t:\n    query: \"\\u00e9t\\\"e (x\"\n"},
		{"flow", "topics: {t: {query: 'a OR'}}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tc.yaml), config.WithQueryCheck(queryCheck))
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("got %v", err)
			}
			_, perr := query.Parse(unquoteYAML(t, tc.yaml))
			var se *query.SyntaxError
			if !errors.As(perr, &se) {
				t.Fatalf("query.Parse: %v", perr)
			}
			e := errs[0]
			if want := fmt.Sprintf(`topic "t": query: %s`, se.Msg); e.Msg != want {
				t.Errorf("message %q, want %q", e.Msg, want)
			}
			// The character at the reported column is the one the parser
			// complained about.
			lines := strings.Split(tc.yaml, "\n")
			src := []rune(lines[e.Line-1])
			val := []rune(unquoteYAML(t, tc.yaml))
			if se.Pos <= len(val) {
				escaped := tc.name == "double" && e.Col-1 < len(src) && src[e.Col-1] == '\\'
				if e.Col-1 >= len(src) || (src[e.Col-1] != val[se.Pos-1] && !escaped) {
					t.Errorf("column %d points at %q, want %q", e.Col, string(src[e.Col-1:]), string(val[se.Pos-1:]))
				}
			} else if e.Col-1 > len(src) {
				t.Errorf("column %d beyond the line %q", e.Col, string(src))
			}
		})
	}
}

// unquoteYAML returns the topic query of a one-topic config as YAML reads it.
func unquoteYAML(t *testing.T, doc string) string {
	t.Helper()
	cfg, err := config.Parse("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Topics[0].Query
}

func TestFullConfig(t *testing.T) {
	vars := map[string]string{
		"LLM_KEY":              "sk-llm",
		"SLACK_BOT_TOKEN":      "xoxb-bot",
		"SLACK_SIGNING_SECRET": "signing",
		"MATRIX_ACCESS_TOKEN":  "syt_matrix",
	}
	cfg, err := config.Load("testdata/good/full.yaml", env(vars), config.WithQueryCheck(queryCheck))
	if err != nil {
		t.Fatal(err)
	}
	brussels, _ := time.LoadLocation("Europe/Brussels")
	cards := config.HTMLSource{Item: ".view-content .card", Title: "h3.card-title a", Link: "h3.card-title a@href", Date: ".card-footer", DateFormat: "02.01.2006", Summary: ".card-subtitle .field__item"}
	page1 := cards
	page1.Summary = ""
	want := &config.Config{
		Path:     "testdata/good/full.yaml",
		DataDir:  "/var/lib/policywire",
		Timezone: "Europe/Brussels",
		Location: brussels,
		Log:      config.Log{Level: "debug", Format: "json"},
		HTTP:     config.HTTP{Listen: ":9090"},
		Fetch:    config.Fetch{UserAgent: "test-agent/1", Timeout: time.Minute, MaxBytes: 512000, Concurrency: 2, HostDelay: 500 * time.Millisecond, AllowPrivate: true},
		Defaults: config.Defaults{Schedule: "0 */2 * * *", Backfill: 24 * time.Hour, Retention: 8760 * time.Hour, FollowUpWindow: 1440 * time.Hour},
		Summary: config.Summary{MaxChars: 280, FetchArticle: "never", LLM: config.LLM{
			URL: "http://127.0.0.1:11434/v1", Model: "llama3", APIKey: "sk-llm", Timeout: 5 * time.Second,
		}},
		Topics: []config.Topic{
			{ID: "cyber", Query: "cyber* AND (security OR resilience)"},
			{ID: "diplomacy", Query: `"digital diplomacy"`},
		},
		Sources: []config.Source{
			{ID: "council", Name: "Council press", Type: "feed", URL: "https://www.consilium.europa.eu/en/rss/pressreleases.ashx", Schedule: "@every 10m", Backfill: 24 * time.Hour, Language: "en"},
			{ID: "eeas", Name: "eeas", Type: "html", URL: "https://www.eeas.europa.eu/eeas/press-material_en", Schedule: "0 */2 * * *", Backfill: 0, HTML: &cards},
			{ID: "eeas-page1", Name: "eeas-page1", Type: "html", URL: "https://www.eeas.europa.eu/eeas/press-material_en?page=1", Schedule: "0 */2 * * *", Backfill: 24 * time.Hour, HTML: &page1},
			{ID: "federal-register", Name: "federal-register", Type: "json", URL: "https://www.federalregister.gov/api/v1/documents.json", Schedule: "0 */2 * * *", Backfill: 24 * time.Hour, JSON: &config.JSONSource{
				Items: "results", Title: "title", Link: "html_url", BaseURL: "https://www.federalregister.gov", Date: "publication_date", DateFormat: "2006-01-02", Summary: "abstract", GUID: "document_number",
			}},
		},
		Slack:  &config.Slack{BotToken: "xoxb-bot", SigningSecret: "signing", Command: "/pw", APIURL: "http://127.0.0.1:1234/api/"},
		Matrix: &config.Matrix{Homeserver: "http://127.0.0.1:8008", UserID: "@bot:localhost:8008", AccessToken: "syt_matrix", CommandPrefix: "!news", Admins: []string{"@alice:localhost:8008"}, Autojoin: config.AutojoinConfigured},
		Channels: []config.Channel{
			{ID: "desk", Slack: "C0123ABCDEF", Topics: []string{"cyber"}, FollowUps: "thread", FollowUpWindow: 1440 * time.Hour, ReplyBroadcast: true},
			{ID: "room", Matrix: "!abc:localhost:8008", Topics: []string{"cyber", "diplomacy"}, Sources: []string{"council", "eeas"}, Digest: "@daily", FollowUps: "thread", FollowUpWindow: 2160 * time.Hour},
			{ID: "firehose", Matrix: "#all:localhost:8008", FollowUps: "channel", FollowUpWindow: 1440 * time.Hour},
		},
		Admin: "room",
		Chat:  config.Chat{MaxSubscriptions: config.DefaultMaxSubscriptions, MaxWatches: 5, CommandsPerMinute: 30, CommandBurst: 4},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got\n%#v\nwant\n%#v", *cfg, *want)
		for i := range cfg.Sources {
			if !reflect.DeepEqual(cfg.Sources[i], want.Sources[i]) {
				t.Errorf("source %d: got %+v %+v %+v", i, cfg.Sources[i], cfg.Sources[i].HTML, cfg.Sources[i].JSON)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := config.Load("testdata/good/minimal.yaml", config.WithVersion("1.2.3"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("testdata/good/data")
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir", cfg.DataDir, abs},
		{"timezone", cfg.Timezone, "UTC"},
		{"location", cfg.Location, time.UTC},
		{"listen", cfg.HTTP.Listen, "127.0.0.1:8080"},
		{"fetch", cfg.Fetch, config.Fetch{UserAgent: "policywire/1.2.3 (+https://github.com/policywire/policywire)", Timeout: 30 * time.Second, MaxBytes: 10 << 20, Concurrency: 8, HostDelay: 2 * time.Second}},
		{"defaults", cfg.Defaults, config.Defaults{Schedule: "@every 15m", Backfill: 72 * time.Hour, FollowUpWindow: config.DefaultFollowUpWindow}},
		{"summary", cfg.Summary, config.Summary{MaxChars: 400, FetchArticle: "auto", LLM: config.LLM{Timeout: 20 * time.Second}}},
		{"log", cfg.Log, config.Log{Level: "info", Format: "auto"}},
		{"source", cfg.Sources[0], config.Source{ID: "council", Name: "council", Type: "feed", URL: "https://www.consilium.europa.eu/en/rss/pressreleases.ashx", Schedule: "@every 15m", Backfill: 72 * time.Hour}},
		{"slack", cfg.Slack, (*config.Slack)(nil)},
		{"matrix", cfg.Matrix, (*config.Matrix)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestEmptyFileGetsDefaults(t *testing.T) {
	cfg, err := config.Parse("/etc/policywire/config.yaml", []byte("# nothing yet\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/etc/policywire/data" || cfg.Defaults.Schedule != "@every 15m" || len(cfg.Sources) != 0 {
		t.Errorf("got %+v", cfg)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := config.Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	if !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestEnvExpansion(t *testing.T) {
	vars := map[string]string{"HOST": "example.org", "PORT": "8443", "EMPTY": "", "N": "3", "D": "45s"}
	for _, tc := range []struct {
		name, yaml string
		check      func(*config.Config) (got, want any)
		wantErr    string
	}{
		{"plain variable", "http: {listen: '127.0.0.1:${PORT}'}", func(c *config.Config) (any, any) { return c.HTTP.Listen, "127.0.0.1:8443" }, ""},
		{"two variables", "sources: [{id: a, url: 'https://${HOST}:${PORT}/feed'}]", func(c *config.Config) (any, any) { return c.Sources[0].URL, "https://example.org:8443/feed" }, ""},
		{"default when unset", "fetch: {user_agent: '${UA:-bot/1}'}", func(c *config.Config) (any, any) { return c.Fetch.UserAgent, "bot/1" }, ""},
		{"default when empty", "fetch: {user_agent: '${EMPTY:-bot/2}'}", func(c *config.Config) (any, any) { return c.Fetch.UserAgent, "bot/2" }, ""},
		{"set value wins over default", "http: {listen: ':${PORT:-80}'}", func(c *config.Config) (any, any) { return c.HTTP.Listen, ":8443" }, ""},
		{"empty default", "http: {listen: '${UNSET:-}'}", func(c *config.Config) (any, any) { return c.HTTP.Listen, "" }, ""},
		{"number from env", "fetch: {concurrency: '${N}'}", func(c *config.Config) (any, any) { return c.Fetch.Concurrency, 3 }, ""},
		{"duration from env", "fetch: {timeout: '${D}'}", func(c *config.Config) (any, any) { return c.Fetch.Timeout, 45 * time.Second }, ""},
		{"lone dollar kept", "fetch: {user_agent: 'costs $5'}", func(c *config.Config) (any, any) { return c.Fetch.UserAgent, "costs $5" }, ""},
		{"list entries", "matrix: {admins: ['@${N}:${HOST}']}", func(c *config.Config) (any, any) { return c.Matrix, (*config.Matrix)(nil) }, ""},
		{"unset is an error", "fetch: {user_agent: 'x ${NOPE} y'}", nil, "c.yaml:1:21: fetch.user_agent: environment variable NOPE is not set (use ${NOPE:-default} to give a default)"},
		{"set but empty is not unset", "http: {listen: '${EMPTY}'}", func(c *config.Config) (any, any) { return c.HTTP.Listen, "" }, ""},
		{"bad value from env is shown as written", "fetch: {concurrency: '${HOST}'}", nil, `c.yaml:1:22: fetch.concurrency: expected a whole number, got "${HOST}"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("c.yaml", []byte(tc.yaml), env(vars))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := tc.check(cfg); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v, want %#v", got, want)
			}
		})
	}
}

// TestSecretsNeverPrinted feeds secrets through every path that produces
// text: errors about the secret fields, errors about other fields whose
// value came from a secret variable, fmt and slog of the loaded config.
func TestSecretsNeverPrinted(t *testing.T) {
	const token = "xoxb-111-secret-value"
	vars := map[string]string{"SLACK_BOT_TOKEN": token, "MATRIX_ACCESS_TOKEN": token, "LLM_KEY": token}

	_, err := config.Load("testdata/bad/secret-wrong-type.yaml", env(vars))
	if err == nil {
		t.Fatal("loaded a config with a list as token")
	}
	for _, s := range []string{token, "shh-secret-value"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error output contains a secret:\n%v", err)
		}
	}

	misplaced := "fetch:\n  user_agent: [\"${SLACK_BOT_TOKEN}\"]\n  timeout: ${SLACK_BOT_TOKEN}\n  concurrency: ${MATRIX_ACCESS_TOKEN}\n" +
		"slack:\n  bot_token: xoxb-111-secret-value\n  bot_tokn: xoxb-111-secret-value\n  command: ${LLM_KEY}\n"
	_, err = config.Parse("c.yaml", []byte(misplaced), env(vars))
	var errs config.Errors
	if !errors.As(err, &errs) || len(errs) != 5 {
		t.Fatalf("want 5 errors, got %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error output contains a secret:\n%v", err)
	}

	good := "slack:\n  bot_token: ${SLACK_BOT_TOKEN}\n  signing_secret: " + token + "\n  app_token: " + token + "\n" +
		"matrix:\n  homeserver: https://m.example.org\n  user_id: '@b:example.org'\n  access_token: ${MATRIX_ACCESS_TOKEN}\n" +
		"  password: ${MATRIX_ACCESS_TOKEN}\n  pickle_key: ${MATRIX_ACCESS_TOKEN}\n" +
		"summary:\n  llm: {url: 'http://127.0.0.1:1/v1', model: m, api_key: '${LLM_KEY}'}\n"
	cfg, err := config.Parse("c.yaml", []byte(good), env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.BotToken.Value() != token || cfg.Matrix.AccessToken.Value() != token || cfg.Summary.LLM.APIKey.Value() != token ||
		cfg.Matrix.Password.Value() != token || cfg.Matrix.PickleKey.Value() != token {
		t.Fatal("secrets not loaded")
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%v %+v %#v %s\n", cfg, *cfg.Slack, *cfg.Matrix, cfg.Summary.LLM.APIKey)
	fmt.Fprintf(&out, "%v %+v %#v\n", *cfg, *cfg, cfg.Summary)
	slog.New(slog.NewTextHandler(&out, nil)).Info("x", "slack", cfg.Slack, "matrix", *cfg.Matrix, "key", cfg.Summary.LLM.APIKey, "cfg", cfg)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "slack", cfg.Slack, "matrix", cfg.Matrix, "key", cfg.Summary.LLM.APIKey, "summary", cfg.Summary)
	if strings.Contains(out.String(), token) {
		t.Errorf("printed config contains a secret:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Errorf("no [redacted] marker in:\n%s", out.String())
	}
}

// TestMatrixLoginAndEncryptionKeys: a password stands in for the access
// token, device_id goes with a token, and a pickle key too short to seal
// the device keys is refused without being shown.
func TestMatrixLoginAndEncryptionKeys(t *testing.T) {
	const head = "sources:\n  - {id: s, url: 'https://example.org/feed'}\nchannels:\n  - {id: room, matrix: '!r:example.org'}\n" +
		"matrix:\n  homeserver: https://m.example.org\n  user_id: '@b:example.org'\n"
	keyFile := filepath.Join(t.TempDir(), "pickle_key")
	if err := os.WriteFile(keyFile, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, matrix, wantErr string
	}{
		{"password alone", "  password: a-password\n  pickle_key: 0123456789abcdef0123\n", ""},
		{"pickle key from a file", "  access_token: syt_x\n  pickle_key_file: " + keyFile + "\n", ""},
		{"token and device", "  access_token: syt_x\n  device_id: ABCDEFGHIJ\n", ""},
		{"neither token nor password", "  pickle_key: 0123456789abcdef0123\n", "matrix.access_token is required"},
		{"device without token", "  password: a-password\n  device_id: ABCDEFGHIJ\n", "matrix.device_id: goes with matrix.access_token"},
		{"short pickle key", "  access_token: syt_x\n  pickle_key: short-key\n", "matrix.pickle_key: must be at least 16 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("c.yaml", []byte(head+tc.matrix))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if cfg.Matrix == nil {
					t.Fatal("the matrix section was dropped")
				}
				if strings.Contains(tc.matrix, "pickle_key") && cfg.Matrix.PickleKey.Value() != "0123456789abcdef0123" {
					t.Errorf("pickle key %q", cfg.Matrix.PickleKey.Value())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse = %v, want an error with %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "short-key") || strings.Contains(err.Error(), "a-password") {
				t.Errorf("the error shows a secret: %v", err)
			}
		})
	}
}

// TestMatrixAutojoin: matrix.autojoin is configured unless set, and a
// value other than configured, any or none is refused at its place.
func TestMatrixAutojoin(t *testing.T) {
	const head = "sources:\n  - {id: s, url: 'https://example.org/feed'}\nchannels:\n  - {id: room, matrix: '!r:example.org'}\n" +
		"matrix:\n  homeserver: https://m.example.org\n  user_id: '@b:example.org'\n  access_token: syt_x\n"
	for extra, want := range map[string]string{"": config.AutojoinConfigured, "  autojoin: any\n": config.AutojoinAny, "  autojoin: none\n": config.AutojoinNone} {
		cfg, err := config.Parse("c.yaml", []byte(head+extra))
		if err != nil {
			t.Fatalf("%q: %v", extra, err)
		}
		if cfg.Matrix.Autojoin != want {
			t.Errorf("%q: autojoin %q, want %q", extra, cfg.Matrix.Autojoin, want)
		}
	}
	_, err := config.Parse("c.yaml", []byte(head+"  autojoin: always\n"))
	if err == nil || !strings.Contains(err.Error(), `c.yaml:9:13: matrix.autojoin: must be configured, any or none, got "always"`) {
		t.Errorf("autojoin: always gave %v", err)
	}
}

func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "etc")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ value, want string }{
		{"./state", filepath.Join(sub, "state")},
		{"../var/db", filepath.Join(dir, "var", "db")},
		{"/srv/policywire", "/srv/policywire"},
	} {
		path := filepath.Join(sub, "config.yaml")
		if err := os.WriteFile(path, []byte("data_dir: "+tc.value+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DataDir != tc.want {
			t.Errorf("data_dir %s: got %s, want %s", tc.value, cfg.DataDir, tc.want)
		}
	}
}

// TestExampleConfig loads config.example.yaml, the file `init` writes, with
// the variables it names set.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, policywire.ExampleConfig) {
		t.Fatal("embedded example differs from config.example.yaml")
	}
	vars := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "MATRIX_ACCESS_TOKEN": "syt_1"}
	cfg, err := config.Parse("../config.example.yaml", data, env(vars), config.WithQueryCheck(queryCheck))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, s := range cfg.Sources {
		ids[s.ID] = s.Type
	}
	for id, typ := range map[string]string{
		"council-press": "feed", "council-press-list": "html", "commission-press": "feed", "eeas-press": "html",
		"europarl-press": "feed", "eurlex": "feed", "state-press": "feed", "govuk-fcdo-atom": "feed",
		"govuk-fcdo": "json", "federal-register": "json",
	} {
		if ids[id] != typ {
			t.Errorf("source %s: type %q, want %q", id, ids[id], typ)
		}
	}
	if len(cfg.Topics) != 2 || len(cfg.Channels) != 2 || cfg.Slack == nil || cfg.Matrix == nil || cfg.Admin == "" {
		t.Errorf("example lacks topics, channels or chat sections: %+v", cfg)
	}
	// Every key of the example carries a comment.
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if !strings.Contains(line, " # ") && !isSectionIntro(trimmed) {
			t.Errorf("line %d has no comment: %s", i+1, line)
		}
	}
	// Without the variables, the error names them.
	_, err = config.Parse("config.yaml", data, env(nil))
	for _, v := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "MATRIX_ACCESS_TOKEN"} {
		if err == nil || !strings.Contains(err.Error(), v) {
			t.Errorf("error does not name %s: %v", v, err)
		}
	}
}

// isSectionIntro tells the lines whose meaning the comment of a sibling
// line already gives: repeated keys of list entries and nested sections.
func isSectionIntro(line string) bool {
	for _, p := range []string{"- id:", "name:", "type:", "url:", "html:", "json:", "title:", "link:", "date:", "summary:", "items:", "query:", "topics:", "sources:", "schedule:", "date_format:", "item:"} {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

func TestMergeKeysAndAliases(t *testing.T) {
	doc := `
sources:
  - id: a
    url: https://example.org/a
    type: html
    html: &sel
      item: li
      title: a
      link: a@href
  - id: b
    url: https://example.org/b
    type: html
    html:
      <<: *sel
      link: a.more@href
`
	cfg, err := config.Parse("c.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := *cfg.Sources[1].HTML; got != (config.HTMLSource{Item: "li", Title: "a", Link: "a.more@href"}) {
		t.Errorf("got %+v", got)
	}
}

func FuzzParse(f *testing.F) {
	for _, glob := range []string{"testdata/bad/*.yaml", "testdata/good/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("f.yaml", data, config.WithQueryCheck(queryCheck), env(map[string]string{"A": "1"}))
		if err == nil {
			if cfg == nil || cfg.Location == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				if e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("bad error position or message: %#v", e)
				}
			}
		}
	})
}

func TestMetricsListen(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte("http: {listen: ':8080', metrics_listen: '127.0.0.1:9090'}"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.MetricsListen != "127.0.0.1:9090" {
		t.Fatalf("metrics_listen = %q", cfg.HTTP.MetricsListen)
	}
	for yaml, want := range map[string]string{
		"http: {metrics_listen: 'localhost'}":                  `c.yaml:1:24: http.metrics_listen: expected host:port`,
		"http: {listen: ':8080', metrics_listen: ':8080'}":     `c.yaml:1:41: http.metrics_listen: must differ from http.listen (:8080)`,
		"http: {metrics_listen: '127.0.0.1:99999'}":            `c.yaml:1:24: http.metrics_listen: invalid port "99999"`,
		"http: {listen: '127.0.0.1:8080', metrics_listen: ''}": "",
	} {
		_, err := config.Parse("c.yaml", []byte(yaml), env(nil))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", yaml, err)
		case want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)):
			t.Errorf("%s: got %v, want an error starting %s", yaml, err, want)
		}
	}
}

func TestSlackAdminsAndMaxSubscriptions(t *testing.T) {
	cfg, err := config.Parse("c.yaml", []byte("slack: {bot_token: xoxb-1, admins: [U024BE7LH, W012A3CDE]}\nchat: {max_subscriptions: 7}"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Slack.Admins, []string{"U024BE7LH", "W012A3CDE"}) || cfg.Chat.MaxSubscriptions != 7 {
		t.Fatalf("admins %v, max_subscriptions %d", cfg.Slack.Admins, cfg.Chat.MaxSubscriptions)
	}
	if def, err := config.Parse("c.yaml", []byte("log: {level: info}"), env(nil)); err != nil || def.Chat.MaxSubscriptions != config.DefaultMaxSubscriptions {
		t.Fatalf("default max_subscriptions: %v %v", def, err)
	}
	for yaml, want := range map[string]string{
		"slack: {bot_token: xoxb-1, admins: [alice]}": `c.yaml:1:37: slack.admins: expected a Slack user ID such as U024BE7LH, got "alice"`,
		"chat: {max_subscriptions: 0}":                `c.yaml:1:27: chat.max_subscriptions: must be from 1 to 1000, got 0`,
		"chat: {max_subscriptions: many}":             `c.yaml:1:27: chat.max_subscriptions: expected a whole number, got "many"`,
	} {
		if _, err := config.Parse("c.yaml", []byte(yaml), env(nil)); err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", yaml, err, want)
		}
	}
}
