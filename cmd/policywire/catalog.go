package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/catalog"
	"github.com/policywire/policywire/config"
)

func newCatalogCmd(a *app) *cobra.Command {
	var region, kind, lang string
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "List the built-in catalog of sources (show ID, verify)",
		Long: "catalog lists the sources shipped in the binary: EU institutions, governments,\n" +
			"international organisations, civil society and industry. Filter with --region,\n" +
			"--kind and --lang; 'catalog show ID' prints an entry as a source block;\n" +
			"'policywire init --catalog eu,us,uk' starts a config from it.",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			es, err := catalog.Entries()
			if err != nil {
				return err
			}
			es = catalog.Filter(es, region, kind, lang)
			if len(es) == 0 {
				return usageError(fmt.Errorf("no catalog entry matches --region %q --kind %q --lang %q", region, kind, lang))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tREGION\tKIND\tLANG\tTYPE\tNAME")
			for _, e := range es {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Source.ID, e.Region, e.Kind, e.Source.Language, e.Source.Type, e.Source.Name)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			entries := "entries"
			if len(es) == 1 {
				entries = "entry"
			}
			fmt.Fprintf(a.stdout, "\n%d %s. Start a config with: policywire init --catalog %s\n", len(es), entries, strings.Join(catalog.Regions(es), ","))
			return nil
		},
	}
	cmd.Flags().StringVar(&region, "region", "", "only this region: eu, us, uk, fr, de, nl, ee, jp, ca, au, int")
	cmd.Flags().StringVar(&kind, "kind", "", "only this kind: eu-institution, government, international, civil-society")
	cmd.Flags().StringVar(&lang, "lang", "", "only sources in this language (en, fr, de, nl, ...)")
	cmd.AddCommand(newCatalogShowCmd(a), newCatalogVerifyCmd(a))
	return cmd
}

func newCatalogShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Print one catalog entry as a source block to paste under sources:",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			es, err := catalog.Entries()
			if err != nil {
				return err
			}
			e, ok := catalog.Find(es, args[0])
			if !ok {
				var ids []string
				for _, e := range es {
					ids = append(ids, e.Source.ID)
				}
				return usageError(fmt.Errorf("no catalog entry %q; entries: %s", args[0], strings.Join(ids, ", ")))
			}
			fmt.Fprintf(a.stdout, "# %s: region %s, %s, shape checked %s\n%s", e.Source.ID, e.Region, e.Kind, e.Checked,
				config.SourceYAML(e.Source, ""))
			return nil
		},
	}
}

func newCatalogVerifyCmd(a *app) *cobra.Command {
	var fromConfig bool
	cmd := &cobra.Command{
		Use:   "verify [ID...]",
		Short: "Fetch catalog sources now and report those that no longer parse",
		Long: "verify reads every catalog entry (or the ones named) from its live URL, once, and\n" +
			"reports the ones that fail or no longer give items with titles, links and dates.\n" +
			"With --from-config it reads the sources of the config file instead. It exits 1\n" +
			"when any source no longer parses: please report those.",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.discoverConfig(fromConfig)
			if err != nil {
				return err
			}
			var srcs []config.Source
			if fromConfig {
				for _, s := range cfg.Sources {
					if len(args) == 0 || slices.Contains(args, s.ID) {
						srcs = append(srcs, s)
					}
				}
			} else {
				es, err := catalog.Entries()
				if err != nil {
					return err
				}
				if len(args) > 0 {
					if es, err = catalog.Select(es, args); err != nil {
						return usageError(err)
					}
				}
				for _, e := range es {
					srcs = append(srcs, e.Source)
				}
			}
			if len(srcs) == 0 {
				return usageError(fmt.Errorf("no source to verify"))
			}
			fetcher := newFetcher(cfg, a.logger(cfg))
			defer fetcher.Close()
			checks := catalog.Verify(cmd.Context(), fetcher, srcs, cfg.Location)
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRESULT\tITEMS\tNEWEST\tPROBLEM")
			failed := 0
			for _, c := range checks {
				result, newest, problem := "ok", "-", "-"
				if !c.Newest.IsZero() {
					newest = c.Newest.In(cfg.Location).Format("2006-01-02")
				}
				if !c.OK() {
					result, problem = "FAILED", clipText(c.Problem, 120)
					failed++
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", c.Source.ID, result, c.Items, newest, problem)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if failed > 0 {
				fmt.Fprintf(a.stdout, "\n%d of %d no longer parse.\n", failed, len(checks))
				return &exitError{code: exitFailed}
			}
			fmt.Fprintf(a.stdout, "\nAll %d parse.\n", len(checks))
			return nil
		},
	}
	cmd.Flags().BoolVar(&fromConfig, "from-config", false, "verify the sources of the config file instead of the catalog")
	return cmd
}
