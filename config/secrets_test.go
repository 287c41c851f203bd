package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/policywire/policywire/config"
)

// A token written in the config file is taken, with a warning naming where
// it is (never what it is); one from ${VAR} or a secret file gives none.
func TestLiteralSecretsAreWarnedAbout(t *testing.T) {
	const token = "xoxb-111-secret-value"
	doc := "slack:\n  bot_token: " + token + "\n  signing_secret: ${SIGNING}\n" +
		"matrix:\n  homeserver: https://m.example.org\n  user_id: '@b:example.org'\n  access_token: syt_literal\n" +
		"summary:\n  llm: {url: 'http://127.0.0.1:1/v1', model: m, api_key: sk-literal}\n"
	cfg, err := config.Parse("c.yaml", []byte(doc), env(map[string]string{"SIGNING": "from-env"}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"c.yaml:2:14: warning: slack.bot_token is written in the config file",
		"c.yaml:7:17: warning: matrix.access_token is written in the config file",
		"c.yaml:9:58: warning: summary.llm.api_key is written in the config file",
	}
	if len(cfg.Warnings) != len(want) {
		t.Fatalf("warnings:\n%s\nwant %d", strings.Join(cfg.Warnings, "\n"), len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(cfg.Warnings[i], w) {
			t.Errorf("warning %d = %q, want it to start with %q", i, cfg.Warnings[i], w)
		}
		if strings.Contains(cfg.Warnings[i], token) || strings.Contains(cfg.Warnings[i], "literal") {
			t.Errorf("warning shows the secret: %q", cfg.Warnings[i])
		}
	}
	if cfg.Slack.BotToken.Value() != token || cfg.Slack.SigningSecret.Value() != "from-env" {
		t.Fatal("secrets not loaded")
	}
}

// slack.bot_token_file and the like read a Docker or Kubernetes secret:
// its text less the final line break, relative to the config file.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "slack_token"), []byte("xoxb-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "policywire.yaml")
	doc := "slack:\n  bot_token_file: slack_token\n" +
		"channels:\n  - {id: eu-desk, slack: C0EUDESK}\n"
	cfg, err := config.Parse(path, []byte(doc), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Slack.BotToken.Value() != "xoxb-from-file" || len(cfg.Warnings) != 0 {
		t.Fatalf("token %q, warnings %q", cfg.Slack.BotToken.Value(), cfg.Warnings)
	}

	for _, tc := range []struct{ name, doc, want string }{
		{"missing file", "slack:\n  bot_token_file: /nonexistent/slack_token\n", "c.yaml:2:19: slack.bot_token_file: cannot read the secret file: open /nonexistent/slack_token: no such file or directory"},
		{"both given", "slack:\n  bot_token: ${T}\n  bot_token_file: /run/secrets/t\n", "c.yaml:3:19: slack.bot_token and slack.bot_token_file are both set: keep one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("c.yaml", []byte(tc.doc), env(map[string]string{"T": "x"}))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}
}
