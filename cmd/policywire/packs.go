package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire/topics/packs"
)

func newPacksCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "packs [NAME]",
		Short: "List the built-in topic packs, or show one pack's queries",
		Long: "packs lists the ready-made multilingual topics a config can use with\n" +
			"  topics: {diplomacy: {pack: digital-diplomacy}}\n" +
			"A topic's own query: extends its pack (an item matches either).\n" +
			"'packs NAME' prints the pack's query for each language.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			all := packs.All()
			if len(args) == 0 {
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "PACK\tLANGUAGES\tCOVERS")
				for _, p := range all {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, strings.Join(languagesOf(p), ","), clipText(p.Description, 90))
				}
				return tw.Flush()
			}
			var names []string
			for _, p := range all {
				if p.Name == args[0] {
					fmt.Fprintf(a.stdout, "%s: %s\n\n", p.Name, p.Description)
					for _, l := range languagesOf(p) {
						fmt.Fprintf(a.stdout, "%s: %s\n", l, strings.TrimSpace(p.Languages[l]))
					}
					return nil
				}
				names = append(names, p.Name)
			}
			return usageError(fmt.Errorf("no topic pack %q; packs: %s", args[0], strings.Join(names, ", ")))
		},
	}
	return cmd
}

func languagesOf(p packs.Pack) []string {
	var ls []string
	for l := range p.Languages {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	return ls
}
