package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/discover"
)

func newDiscoverCmd(a *app) *cobra.Command {
	var add bool
	var pick int
	cmd := &cobra.Command{
		Use:   "discover URL",
		Short: "Find the feeds, APIs or selectors of a web page and print ready source blocks",
		Long: "discover fetches a page and finds its sources: the feeds it links to, the usual\n" +
			"feed paths of its site, the JSON APIs of GOV.UK and WordPress, and, for a listing\n" +
			"without any of these, html selectors. Each is read once and printed as a source\n" +
			"block, best first, with what it yields. --add appends the best one (or --pick N)\n" +
			"to the config file, keeping its comments and layout, and checks the result.\n" +
			"The fetch settings of the config file are used when it exists.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.discoverConfig(add || cmd.Flags().Changed("pick"))
			if err != nil {
				return err
			}
			fetcher := newFetcher(cfg, a.logger(cfg))
			defer fetcher.Close()
			res, err := discover.Discover(cmd.Context(), fetcher, args[0], discover.Options{Location: cfg.Location})
			if errors.Is(err, discover.ErrBlocked) {
				fmt.Fprintf(a.stderr, "%s\n", strings.TrimPrefix(err.Error(), "discover: "))
				return &exitError{code: exitFailed}
			}
			if err != nil {
				return err
			}
			if len(res.Candidates) == 0 {
				fmt.Fprintf(a.stderr, "No source found for %s.\n", res.URL)
				for _, t := range res.Tried {
					fmt.Fprintf(a.stderr, "  tried %s\n", t)
				}
				return &exitError{code: exitFailed}
			}
			if add || cmd.Flags().Changed("pick") {
				return a.discoverAdd(cfg, res, pick)
			}
			fmt.Fprintf(a.stdout, "%s found for %s", plural(len(res.Candidates), "source"), res.URL)
			if res.Title != "" {
				fmt.Fprintf(a.stdout, " (%s)", res.Title)
			}
			fmt.Fprint(a.stdout, ", best first. Paste one under sources:, or run again with --add [--pick N].\n")
			for i, c := range res.Candidates {
				fmt.Fprintf(a.stdout, "\n# %d. %s\n%s", i+1, candidateSummary(c, cfg.Location), config.SourceYAML(c.Source, ""))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&add, "add", false, "append the best source found to the config file, then check it")
	cmd.Flags().IntVar(&pick, "pick", 1, "with --add: append the N-th source listed instead of the best")
	return cmd
}

// discoverConfig is the config whose fetch settings discover uses: the
// config file when it exists (required for --add), else the defaults.
func (a *app) discoverConfig(required bool) (*config.Config, error) {
	path, _ := a.configFile()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && !required {
		cfg, err := config.Parse(path, []byte("{}\n"), config.WithVersion(buildVersion()))
		if err != nil {
			return nil, err
		}
		return cfg, nil
	}
	return a.loadConfig()
}

// candidateSummary says how a candidate was found and what it yields.
func candidateSummary(c discover.Candidate, loc *time.Location) string {
	kind := map[string]string{config.TypeFeed: "feed", config.TypeJSON: "JSON API", config.TypeHTML: "web page with selectors"}[c.Source.Type]
	s := fmt.Sprintf("%s (%s): %s", kind, c.Via, plural(c.Items, "item"))
	if c.Dated < c.Items {
		s += fmt.Sprintf(", %d with a date", c.Dated)
	}
	if !c.Newest.IsZero() {
		s += ", newest " + c.Newest.In(loc).Format("2006-01-02")
	}
	if len(c.Languages) > 0 {
		s += ", languages " + strings.Join(c.Languages, ", ")
	}
	if len(c.Sample) > 0 {
		s += fmt.Sprintf("\n#    e.g. %q", clipText(c.Sample[0].Title, 90))
	}
	return s
}

// discoverAdd appends candidate pick (1-based) to the config file and
// checks it; a config that no longer passes is put back as it was.
func (a *app) discoverAdd(cfg *config.Config, res *discover.Result, pick int) error {
	if pick < 1 || pick > len(res.Candidates) {
		return usageError(fmt.Errorf("--pick %d: discover found %s", pick, plural(len(res.Candidates), "source")))
	}
	c := res.Candidates[pick-1]
	base, id := c.Source.ID, c.Source.ID
	for n := 2; ; n++ {
		if _, taken := cfg.SourceByID(id); !taken {
			break
		}
		id = fmt.Sprintf("%s-%d", base, n)
	}
	c.Source.ID = id
	before, err := os.ReadFile(cfg.Path)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	info, err := os.Stat(cfg.Path)
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	note := fmt.Sprintf("found by policywire discover %s on %s: %s", res.URL, time.Now().In(cfg.Location).Format("2006-01-02"), plural(c.Items, "item"))
	if err := config.AppendSource(cfg.Path, config.SourceYAML(c.Source, note)); err != nil {
		return err
	}
	checked, err := a.loadConfig()
	if err != nil {
		if werr := os.WriteFile(cfg.Path, before, info.Mode().Perm()); werr != nil {
			return fmt.Errorf("discover: the config no longer passes check and could not be restored: %v (check: %w)", werr, err)
		}
		fmt.Fprintf(a.stderr, "The config did not pass check with %s added; %s is as it was.\n", id, cfg.Path)
		return err
	}
	fmt.Fprintf(a.stdout, "Added source %s (%s) to %s.\n%s\n", id, c.Source.URL, cfg.Path, checkedLine(checked))
	return nil
}
