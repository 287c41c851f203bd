package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newMatrixCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Matrix account tasks: cross-signing for end-to-end encryption",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newMatrixSetupCmd(a))
	return cmd
}

func newMatrixSetupCmd(a *app) *cobra.Command {
	var recoveryKey bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Make the bot's cross-signing keys and print the recovery key once",
		Long: "setup makes the bot's cross-signing keys, keeps them in secret storage on\n" +
			"the homeserver and signs the bot's device, so that people who verify the bot\n" +
			"see it as verified. It prints the recovery key once: keep it. The homeserver\n" +
			"asks for the account's password: matrix.password, or a line on stdin.\n" +
			"With --recovery-key (the key on stdin) it reuses the keys made before, e.g.\n" +
			"after restoring the data dir; without it, it replaces them.\n" +
			"Stop the daemon first: setup opens the data dir.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Matrix == nil {
				return usageError(errors.New("matrix setup: the config has no matrix section"))
			}
			if cfg.Matrix.PickleKey == "" {
				return usageError(errors.New("matrix setup: set matrix.pickle_key first: cross-signing signs the device that encrypts"))
			}
			// The database lock proves no daemon uses the data dir.
			st, err := openStore(cfg, true, 2*time.Second)
			if err != nil {
				return fmt.Errorf("matrix setup: %w (stop the daemon first)", err)
			}
			defer st.Close()
			ctx := cmd.Context()
			logger := a.logger(cfg)
			mx, err := newMatrixSender(ctx, cfg, logger)
			if err != nil {
				return err
			}
			defer mx.Close()
			in := bufio.NewReader(a.stdin)
			readLine := func(what string) (string, error) {
				fmt.Fprintf(a.stderr, "%s: ", what)
				line, err := in.ReadString('\n')
				line = strings.TrimSpace(line)
				if line == "" && err != nil {
					return "", fmt.Errorf("matrix setup: no %s on stdin", what)
				}
				return line, nil
			}
			if recoveryKey {
				key, err := readLine("recovery key")
				if err != nil {
					return err
				}
				if _, err := mx.SetupCrossSigning(ctx, "", key); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "device %s of %s is signed again with the cross-signing keys made before\n", mx.DeviceID(), cfg.Matrix.UserID)
				return nil
			}
			password := cfg.Matrix.Password.Value()
			if password == "" {
				if password, err = readLine("password of " + cfg.Matrix.UserID); err != nil {
					return err
				}
			}
			key, err := mx.SetupCrossSigning(ctx, password, "")
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "cross-signing keys made for %s; device %s is signed\n", cfg.Matrix.UserID, mx.DeviceID())
			fmt.Fprintf(a.stdout, "recovery key (shown once; keep it, `matrix setup --recovery-key` needs it):\n%s\n", key)
			return nil
		},
	}
	cmd.Flags().BoolVar(&recoveryKey, "recovery-key", false, "reuse the keys made before: read their recovery key from stdin")
	return cmd
}
