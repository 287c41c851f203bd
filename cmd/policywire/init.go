package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/policywire/policywire"
	"github.com/policywire/policywire/catalog"
)

func newInitCmd(a *app) *cobra.Command {
	var output, fromCatalog string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter config.yaml and say what to do next",
		Long: "init writes the example configuration (real EU and government sources, two topics,\n" +
			"one Slack channel and one Matrix room) to --output, else to the -c or $" + configEnv + "\n" +
			"path, else to ./config.yaml. It never overwrites a file. With --catalog the sources\n" +
			"come from the built-in catalog instead (see policywire catalog).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := output
			if !cmd.Flags().Changed("output") {
				path, _ = a.configFile()
			}
			data := policywire.ExampleConfig
			if fromCatalog != "" {
				es, err := catalog.Entries()
				if err != nil {
					return err
				}
				chosen, err := catalog.Select(es, strings.Split(fromCatalog, ","))
				if err != nil {
					return usageError(err)
				}
				if data, err = catalog.StarterConfig(policywire.ExampleConfig, chosen); err != nil {
					return err
				}
			}
			if err := writeNew(path, data); err != nil {
				if errors.Is(err, fs.ErrExist) {
					return usageError(fmt.Errorf("%s already exists; not overwriting it (move it away or use --output FILE)", path))
				}
				return err
			}
			fmt.Fprint(a.stdout, nextSteps(path, a.configFlagFor(path)))
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "config.yaml", "file to write")
	cmd.Flags().StringVar(&fromCatalog, "catalog", "", "take the sources from the built-in catalog: regions, kinds or entry ids, comma-separated (eu,us,uk,civil-society)")
	return cmd
}

// configFlagFor is the -c argument later commands need to find path, or
// "" when they find it without one.
func (a *app) configFlagFor(path string) string {
	def := "config.yaml"
	if v, ok := a.lookupEnv(configEnv); ok && strings.TrimSpace(v) != "" {
		def = v
	}
	if filepath.Clean(def) == filepath.Clean(path) {
		return ""
	}
	return " -c " + path
}

// writeNew creates path with data; it fails with fs.ErrExist rather than
// replace a file. The file may come to hold tokens, so only its owner reads it.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	return nil
}

func nextSteps(path, flag string) string {
	return fmt.Sprintf(`Wrote %[1]s.

Next steps:

 1. Slack: create the app from the manifest deploy/slack-app-manifest.yaml
    (api.slack.com/apps, "From an app manifest"), install it, invite it to
    your channel, then
      export SLACK_BOT_TOKEN=xoxb-...  SLACK_SIGNING_SECRET=...
      export SLACK_APP_TOKEN=xapp-...   # Socket Mode: no public URL needed
    and put the channel ID (C...) under channels in %[1]s.

 2. Matrix: create an account for the bot, set matrix.homeserver and
    matrix.user_id in %[1]s, invite the bot to your room, then
      export MATRIX_ACCESS_TOKEN=...
      export MATRIX_PICKLE_KEY=$(openssl rand -hex 32)   # encrypted rooms
    and put the room ID (!...:server) under channels. Keep the pickle key:
    the bot's device keys in the data dir are sealed with it.

    Using only one of them? Delete the other's section and channel.

 3. Check the config:        policywire check%[2]s
 4. Try one source:          policywire try%[2]s council-press
 5. Start the bot:           policywire run%[2]s
`, path, flag)
}
