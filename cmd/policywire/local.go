package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/control"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
)

// openIndex opens the search index, rebuilding it from the database when
// it is missing or broken.
func openIndex(ctx context.Context, cfg *config.Config, st *store.Store, logger *slog.Logger) (*index.Index, error) {
	return index.OpenOrRebuild(ctx, indexDir(cfg), st, logger)
}

// controlHandler is what the daemon answers on its local socket, so that
// commands that need the database work while the daemon holds it.
func controlHandler(b *bot.Bot, st *store.Store, idx *index.Index) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sources", func(w http.ResponseWriter, _ *http.Request) {
		rep, err := bot.Health(b.Config(), st, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rep)
	})
	mux.HandleFunc("GET /v1/backup", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := st.WriteTo(w); err != nil {
			// The body is already under way: a cut stream makes the client fail.
			panic(http.ErrAbortHandler)
		}
	})
	mux.HandleFunc("GET /v1/search", func(w http.ResponseWriter, r *http.Request) {
		q, err := query.Parse(r.URL.Query().Get("q"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		now := time.Now().In(b.Config().Location)
		if at := r.URL.Query().Get("now"); at != "" {
			if now, err = time.Parse(time.RFC3339, at); err != nil {
				http.Error(w, "now: "+err.Error(), http.StatusBadRequest)
				return
			}
		}
		hits, err := b.FreshSearcher(idx).Search(r.Context(), q, policywire.SearchOptions{Limit: max(limit, 1), Now: now})
		if err == nil {
			err = st.AddStorySources(hits)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hits)
	})
	mux.HandleFunc("GET /v1/reindex", func(w http.ResponseWriter, r *http.Request) {
		n, err := reindexInto(st, idx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}

// backupTo writes a consistent copy of the database to w: directly when
// no daemon holds it, else through the daemon's socket.
func backupTo(ctx context.Context, cfg *config.Config, w io.Writer) error {
	st, err := openStore(cfg, true, 300*time.Millisecond)
	if err == nil {
		defer st.Close()
		if _, err := st.WriteTo(w); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		return nil
	}
	if err := control.Get(ctx, control.SocketPath(cfg.DataDir), "/v1/backup", w); err != nil {
		return fmt.Errorf("backup: the database is in use and the daemon did not answer: %w", err)
	}
	return nil
}

// reindexInto indexes every archived item again, in batches.
func reindexInto(st *store.Store, idx *index.Index) (int, error) {
	const batchSize = 1000
	var batch []policywire.Item
	n := 0
	err := st.ForEachItem(func(it policywire.Item) error {
		batch = append(batch, it)
		n++
		if len(batch) == batchSize {
			err := idx.Index(batch)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = idx.Index(batch)
	}
	if err != nil {
		return n, fmt.Errorf("reindex: %w", err)
	}
	return n, nil
}
