package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
	"github.com/policywire/policywire/store"
	"github.com/policywire/policywire/store/index"
)

func newCheckCmd(a *app) *cobra.Command {
	var data bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config file (and with --data the database and search index)",
		Long: "check reads the config file and reports every problem as FILE:LINE:COL: message.\n" +
			"With --data it also runs bbolt's consistency check over the database and checks\n" +
			"that the search index opens, matches its checksums and holds every item; the\n" +
			"daemon must be stopped. It exits 0 only when everything is valid.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(a.stderr, w)
			}
			fmt.Fprintln(a.stdout, checkedLine(cfg))
			if !data {
				return nil
			}
			return a.checkData(dbPath(cfg), indexDir(cfg))
		},
	}
	cmd.Flags().BoolVar(&data, "data", false, "also check the database and the search index in data_dir")
	return cmd
}

// checkData verifies the database and the search index, printing one line
// for each, and fails naming every problem found.
func (a *app) checkData(db, indexDir string) error {
	st, err := store.Open(db, store.Options{ReadOnly: true, Check: true, Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, store.ErrLocked) {
			return fmt.Errorf("%w; stop it to check the data", err)
		}
		return err
	}
	defer st.Close()
	items, err := st.ItemCount()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: ok: %s, schema version %d\n", db, plural(items, "item"), store.SchemaVersion())
	if _, err := index.Verify(indexDir, st); err != nil {
		return fmt.Errorf("%w\nthe search index is derived from the database: `policywire reindex` rebuilds it, and so does the daemon at its next start", err)
	}
	fmt.Fprintf(a.stdout, "%s: ok: %s\n", indexDir, plural(items, "item"))
	return nil
}

// checkedLine is what check prints for a valid config.
func checkedLine(cfg *config.Config) string {
	return fmt.Sprintf("%s: ok: %s, %s, %s", cfg.Path,
		plural(len(cfg.Sources), "source"), plural(len(cfg.Topics), "topic"), plural(len(cfg.Channels), "channel"))
}

// queryCheck is the topic query check config.Load runs: a topic takes no
// time filter.
func queryCheck(q string) error {
	_, err := query.ParseTopic(q)
	return err
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
