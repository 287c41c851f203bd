package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/config"
	"github.com/policywire/policywire/query"
)

func newCheckCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the config file",
		Long: "check reads the config file and reports every problem as FILE:LINE:COL: message.\n" +
			"It exits 0 only when the config is valid.",
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
			return nil
		},
	}
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
