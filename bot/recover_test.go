package bot

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/policywire/policywire"
)

type panickingIndex struct{}

func (panickingIndex) Index([]policywire.Item) error { panic("index bug") }

// A crash of the search index is an error of that batch, not of the daemon.
func TestIndexerPanicIsAnError(t *testing.T) {
	x := newBatchIndexer(panickingIndex{}, slog.New(slog.DiscardHandler))
	defer x.Close()
	if err := x.Index(items(1)); err != nil {
		t.Fatal(err)
	}
	if err := x.Flush(); err == nil || !strings.Contains(err.Error(), "index bug") {
		t.Fatalf("Flush after a panic = %v, want an error naming it", err)
	}
}

// A command that crashes answers with an error; the listener goes on.
func TestCommandPanicIsAnError(t *testing.T) {
	c := &Commands{} // no bot: "sources" dereferences it
	_, err := c.Handle(context.Background(), CommandRequest{Platform: "slack", Text: "sources"}, "/policywire")
	if err == nil || !strings.Contains(err.Error(), `command "sources" panicked`) {
		t.Fatalf("err = %v, want the panic as an error", err)
	}
}
