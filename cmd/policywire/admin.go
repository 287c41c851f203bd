package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/bot/matrix"
	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/internal/control"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
)

func newSourcesCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sources",
		Short: "Show the health of every source and the outbox of every channel",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			var rep bot.HealthReport
			st, err := openStore(cfg, true, 300*time.Millisecond)
			switch {
			case err == nil:
				rep, err = bot.Health(cfg, st, time.Now())
				st.Close()
				if err != nil {
					return err
				}
			case errors.Is(err, store.ErrLocked):
				var buf bytes.Buffer
				if err := control.Get(cmd.Context(), control.SocketPath(cfg.DataDir), "/v1/sources", &buf); err != nil {
					return fmt.Errorf("sources: the database is in use and the daemon did not answer: %w", err)
				}
				if err := json.Unmarshal(buf.Bytes(), &rep); err != nil {
					return fmt.Errorf("sources: daemon answer: %w", err)
				}
			case errors.Is(err, os.ErrNotExist):
				// Never run: every source is waiting for its first poll.
				rep, err = bot.Health(cfg, nil, time.Now())
				if err != nil {
					return err
				}
			default:
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return bot.WriteHealth(a.stdout, rep, cfg.Location)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBackupCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "backup OUT",
		Short: "Write a consistent copy of the database, also while the daemon runs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			out := args[0]
			if _, err := os.Stat(out); err == nil {
				return usageError(fmt.Errorf("%s exists; choose a new file name", out))
			}
			tmp, err := os.CreateTemp(filepath.Dir(out), ".policywire-backup-*")
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			defer os.Remove(tmp.Name())
			if err := backupTo(cmd.Context(), cfg, tmp); err != nil {
				tmp.Close()
				return err
			}
			if err := tmp.Sync(); err != nil {
				tmp.Close()
				return fmt.Errorf("backup: %w", err)
			}
			if err := tmp.Close(); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			// Prove the copy opens and is sound before calling it a backup.
			check, err := store.Open(tmp.Name(), store.Options{ReadOnly: true})
			if err != nil {
				return fmt.Errorf("backup: the copy does not open: %w", err)
			}
			n, _ := check.ItemCount()
			cerr := check.Check()
			check.Close()
			if cerr != nil {
				return fmt.Errorf("backup: the copy fails its check: %w", cerr)
			}
			if err := os.Rename(tmp.Name(), out); err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			fmt.Fprintf(a.stdout, "backup written to %s (%s)\n", out, plural(n, "item"))
			return a.backupMatrixState(cmd.Context(), cfg, out)
		},
	}
}

// backupMatrixState copies the Matrix device's state next to the database
// backup: the crypto store (its keys; without them the device cannot read
// what it was sent, nor be the same device) and the saved login of
// matrix.password. Restoring puts them back into data_dir under their
// names there.
func (a *app) backupMatrixState(ctx context.Context, cfg *config.Config, out string) error {
	if _, err := os.Stat(cryptoStorePath(cfg)); err == nil {
		dst := out + "." + filepath.Base(cryptoStorePath(cfg))
		if _, err := os.Stat(dst); err == nil {
			return usageError(fmt.Errorf("%s exists; choose a new file name", dst))
		}
		if err := matrix.BackupCryptoStore(ctx, cryptoStorePath(cfg), dst); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fmt.Fprintf(a.stdout, "matrix crypto store written to %s (restore it as %s)\n", dst, cryptoStorePath(cfg))
	}
	if raw, err := os.ReadFile(sessionPath(cfg)); err == nil {
		dst := out + "." + filepath.Base(sessionPath(cfg))
		if err := os.WriteFile(dst, raw, 0o600); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fmt.Fprintf(a.stdout, "matrix login written to %s (restore it as %s)\n", dst, sessionPath(cfg))
	}
	return nil
}

func newSearchCmd(a *app) *cobra.Command {
	var limit int
	var asJSON bool
	var at string
	cmd := &cobra.Command{
		Use:   "search QUERY",
		Short: "Search the archive",
		Long:  "search finds archived items with the query language of topics (see the README).",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			text := strings.Join(args, " ")
			q, err := query.Parse(text)
			if err != nil {
				var se *query.SyntaxError
				if errors.As(err, &se) {
					return usageError(fmt.Errorf("query does not parse at column %d: %s\n  %s\n  %s^", se.Pos, se.Msg, query.Clean(text), strings.Repeat(" ", max(se.Pos-1, 0))))
				}
				return usageError(err)
			}
			now := time.Now().In(cfg.Location)
			if at != "" {
				if now, err = time.Parse(time.RFC3339, at); err != nil {
					return usageError(fmt.Errorf("--now: %w (write it as 2026-11-20T12:00:00Z)", err))
				}
				now = now.In(cfg.Location)
			}
			var hits []policywire.SearchHit
			st, err := openStore(cfg, true, 300*time.Millisecond)
			switch {
			case err == nil:
				defer st.Close()
				idx, err := index.Open(indexDir(cfg), a.logger(cfg))
				if err != nil {
					return fmt.Errorf("search: %w (rebuild it with 'policywire reindex')", err)
				}
				defer idx.Close()
				hits, err = idx.Search(cmd.Context(), q, policywire.SearchOptions{Limit: limit, Now: now})
				if err == nil {
					err = st.AddStorySources(hits)
				}
				if err != nil {
					return err
				}
			case errors.Is(err, store.ErrLocked):
				var buf bytes.Buffer
				path := "/v1/search?q=" + url.QueryEscape(text) + "&limit=" + strconv.Itoa(limit) + "&now=" + url.QueryEscape(now.Format(time.RFC3339))
				if err := control.Get(cmd.Context(), control.SocketPath(cfg.DataDir), path, &buf); err != nil {
					return fmt.Errorf("search: the database is in use and the daemon did not answer: %w", err)
				}
				if err := json.Unmarshal(buf.Bytes(), &hits); err != nil {
					return fmt.Errorf("search: daemon answer: %w", err)
				}
			case errors.Is(err, os.ErrNotExist):
				return fmt.Errorf("search: no archive yet at %s; run 'policywire run' first", dbPath(cfg))
			default:
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(hits)
			}
			if len(hits) == 0 {
				fmt.Fprintln(a.stdout, "No match.")
				return nil
			}
			for i, h := range hits {
				name := h.Item.Source
				if src, ok := cfg.SourceByID(h.Item.Source); ok && src.Name != "" {
					name = src.Name
				}
				date := ""
				if d := h.Item.Date(); !d.IsZero() {
					date = " · " + d.In(cfg.Location).Format(bot.DateLayout)
				}
				fmt.Fprintf(a.stdout, "%d. %s\n   %s\n   %s%s%s\n", i+1, h.Item.Title, h.Item.URL, name, date, bot.AlsoNote(cfg, h.Also))
				if h.Snippet != "" {
					fmt.Fprintf(a.stdout, "   %s\n", h.Snippet)
				}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 10, "how many results")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&at, "now", "", "the time since: counts back from (RFC 3339; default: the clock)")
	return cmd
}

func newReindexCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from the database",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			st, err := openStore(cfg, false, 300*time.Millisecond)
			if errors.Is(err, store.ErrLocked) {
				var buf bytes.Buffer
				if err := control.Get(cmd.Context(), control.SocketPath(cfg.DataDir), "/v1/reindex", &buf); err != nil {
					return fmt.Errorf("reindex: the database is in use and the daemon did not answer: %w", err)
				}
				fmt.Fprintf(a.stdout, "search index rebuilt by the running daemon: %s items\n", strings.TrimSpace(buf.String()))
				return nil
			}
			if err != nil {
				return err
			}
			defer st.Close()
			idx, n, err := index.Rebuild(cmd.Context(), indexDir(cfg), st, a.logger(cfg))
			if err != nil {
				return err
			}
			idx.Close()
			fmt.Fprintf(a.stdout, "search index rebuilt: %s\n", plural(n, "item"))
			return nil
		},
	}
}
