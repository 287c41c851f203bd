package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/bot"
	"github.com/policywire/policywire/internal/wiring"
	"github.com/policywire/policywire/sources"
	"github.com/policywire/policywire/store"
)

func newTryCmd(a *app) *cobra.Command {
	var asJSON, conditional bool
	cmd := &cobra.Command{
		Use:   "try SOURCE_ID",
		Short: "Fetch one source now and show what was parsed and where it would alert",
		Long: "try fetches one source, prints the answer (status, cache outcome, size, time)\n" +
			"and the items as a table, with the channels each would go to. It writes no state.\n" +
			"With --conditional it sends the validators of the last poll, as the daemon does.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			src, ok := cfg.SourceByID(args[0])
			if !ok {
				var ids []string
				for _, s := range cfg.Sources {
					ids = append(ids, s.ID)
				}
				return usageError(fmt.Errorf("no source %q in %s; sources: %s", args[0], cfg.Path, strings.Join(ids, ", ")))
			}
			logger := a.logger(cfg)
			// Subscriptions and validators come from the database when no
			// daemon holds it; try never writes to it.
			var subs []store.Subscription
			var v sources.Validators
			if st, err := openStore(cfg, true, 200*time.Millisecond); err == nil {
				subs, _ = st.Subscriptions("")
				if conditional {
					if s, err := st.SourceState(src.ID); err == nil {
						v = sources.Validators{ETag: s.ETag, LastModified: s.LastModified}
					}
				}
				st.Close()
			}
			router, err := bot.NewRouter(cfg, subs)
			if err != nil {
				return err
			}
			fetcher := newFetcher(cfg, logger)
			defer fetcher.Close()
			start := time.Now()
			res, err := sources.Read(cmd.Context(), fetcher, wiring.Source(src), v, cfg.Location)
			took := time.Since(start)
			if err != nil {
				kind := sources.KindOf(err)
				if kind == "" {
					kind = "error"
				}
				fmt.Fprintf(a.stderr, "%s failed after %s (%s): %v\n", src.ID, took.Round(time.Millisecond), kind, err)
				return &exitError{code: exitFailed}
			}
			if asJSON {
				type tried struct {
					Source   string   `json:"source"`
					Channels []string `json:"channels"`
					Item     any      `json:"item"`
				}
				out := struct {
					Source string  `json:"source"`
					Items  []tried `json:"items"`
					sources.Report
				}{Source: src.ID, Items: []tried{}, Report: res.Report}
				for _, it := range res.Items {
					out.Items = append(out.Items, tried{Source: src.ID, Channels: routeNames(router.Route(it)), Item: it})
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			r := res.Response
			cache := "fetched in full"
			switch {
			case r.NotModified:
				cache = "not modified since the last poll (304)"
			case r.Validators.ETag != "" || r.Validators.LastModified != "":
				cache = "fetched in full; the source supports conditional requests"
			}
			fmt.Fprintf(a.stdout, "%s — %s\n%s\nHTTP %d, %s, %s, %s\n\n", src.ID, src.Name, r.URL, r.Status, cache, humanBytes(r.Size), took.Round(time.Millisecond))
			if r.NotModified {
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DATE\tTITLE\tLINK\tCHANNELS")
			for _, it := range res.Items {
				date := "-"
				if d := it.Date(); !d.IsZero() {
					date = d.In(cfg.Location).Format("2006-01-02 15:04")
				}
				chans := strings.Join(routeNames(router.Route(it)), ", ")
				if chans == "" {
					chans = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", date, clipText(it.Title, 70), it.URL, chans)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\n%s.\n", plural(len(res.Items), "item"))
			writeReport(a.stdout, res.Report)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the items in full as JSON")
	cmd.Flags().BoolVar(&conditional, "conditional", false, "send the ETag/Last-Modified of the last poll")
	return cmd
}

// tryReportLines is how many dropped items and repairs plain try lists;
// --json lists them all.
const tryReportLines = 5

// writeReport tells, briefly, what reading the source dropped, repaired
// and warns of.
func writeReport(w io.Writer, rep sources.Report) {
	for _, warning := range rep.Warnings {
		fmt.Fprintf(w, "Warning: %s.\n", warning)
	}
	for i, d := range rep.Dropped {
		if i == tryReportLines {
			fmt.Fprintf(w, "… and %d more dropped (try --json lists them).\n", len(rep.Dropped)-i)
			break
		}
		fmt.Fprintf(w, "Dropped item %d: %s.\n", d.Position, d.Reason)
	}
	for i, r := range rep.Repairs {
		if i == tryReportLines {
			fmt.Fprintf(w, "… and %d more repairs (try --json lists them).\n", len(rep.Repairs)-i)
			break
		}
		if r.Position == 0 {
			fmt.Fprintf(w, "Repaired: %s.\n", r.What)
		} else {
			fmt.Fprintf(w, "Repaired item %d: %s.\n", r.Position, r.What)
		}
	}
}

func routeNames(routes []store.Route) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.Channel)
	}
	return out
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}
