package main

import (
	"github.com/spf13/cobra"

	"github.com/policywire/policywire/internal/demo"
)

func newDemoCmd(a *app) *cobra.Command {
	var noPrompt, noColour bool
	var dataDir string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Offline demo on bundled sample sources, printing alerts to the terminal",
		Long: "demo serves five bundled sample sources (Council, EEAS, State Department, GOV.UK and an\n" +
			"industry coalition) from this machine, polls them once with two topics and two channels,\n" +
			"prints the alerts as the chat would show them, then answers searches typed at the prompt.\n" +
			"It needs no network, no config file and no chat account, and leaves nothing behind\n" +
			"unless --data is given.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, noColourEnv := a.lookupEnv("NO_COLOR")
			term, _ := a.lookupEnv("TERM")
			o := demo.Options{
				Stdin:   a.stdin,
				Stdout:  a.stdout,
				Stderr:  a.stderr,
				Colour:  !noColour && !noColourEnv && term != "dumb" && isTerminal(a.stdout),
				Prompt:  !noPrompt,
				DataDir: dataDir,
			}
			if a.verbose > 0 {
				o.Logger = a.logger(nil)
			}
			return demo.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().BoolVar(&noPrompt, "no-prompt", false, "exit after the pass instead of asking for searches")
	cmd.Flags().BoolVar(&noColour, "no-color", false, "plain text even on a terminal (also $NO_COLOR)")
	cmd.Flags().StringVar(&dataDir, "data", "", "keep the demo's database and search index in `DIR` (default: a temporary directory, removed at exit)")
	return cmd
}
