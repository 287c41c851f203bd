package bot_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/store"
)

func oneSourceCommands(t *testing.T) *bot.Commands {
	t.Helper()
	loc, _ := time.LoadLocation("Europe/Brussels")
	cfg := &config.Config{
		Location: loc,
		Sources:  []config.Source{{ID: "council", Name: "Council", Type: config.TypeFeed, URL: "https://example.org/feed", Schedule: "@hourly"}},
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "policywire.db"), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, err := bot.New(bot.Options{Config: cfg, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	return &bot.Commands{Bot: b}
}

// TestCommandsAnswerAsPeopleType: one source is "1 source"; a query typed
// with zero-width and full-width characters gets its caret under the
// problem in the query as read.
func TestCommandsAnswerAsPeopleType(t *testing.T) {
	c := oneSourceCommands(t)
	ctx := context.Background()
	a, err := c.Handle(ctx, bot.CommandRequest{Platform: "slack", Text: "sources"}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != "1 source:" || len(a.Lines) != 1 || !strings.Contains(a.Lines[0], ", 0 items") {
		t.Errorf("sources answer = %q %q, want 1 source and 0 items", a.Text, a.Lines)
	}
	a, err = c.Handle(ctx, bot.CommandRequest{Platform: "slack", Text: "search ｃｙｂｅｒ\u200b\u200b\u200b OR ca*"}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "column 10") || !strings.Contains(a.Text, `"ca*" is too short a prefix`) {
		t.Fatalf("answer = %q", a.Text)
	}
	if len(a.Lines) != 2 {
		t.Fatalf("lines = %q", a.Lines)
	}
	caret := strings.Index(a.Lines[1], "^")
	if got := []rune(a.Lines[0])[caret:]; string(got) != "ca*" {
		t.Errorf("the caret points at %q in %q, want at ca*", string(got), a.Lines[0])
	}
	a, err = c.Handle(ctx, bot.CommandRequest{Platform: "slack", Text: "search " + strings.Repeat("é", bot.MaxCommandChars-7)}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(a.Text, "too long") {
		t.Errorf("a command of %d characters (more bytes) was refused: %q", bot.MaxCommandChars, a.Text)
	}
	a, err = c.Handle(ctx, bot.CommandRequest{Platform: "slack", Text: "search " + strings.Repeat("é", bot.MaxCommandChars-6)}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "too long: 2001 characters") {
		t.Errorf("a command of 2001 characters: %q", a.Text)
	}
	a, err = c.Handle(ctx, bot.CommandRequest{Platform: "slack", Text: "search 🚀🚀"}, "/policywire")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(a.Text, "no letters or digits") {
		t.Errorf("emoji alone: %q", a.Text)
	}
}
