package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/generate"
)

func newDevCmd(a *App) *cobra.Command {
	cmd := &cobra.Command{Use: "dev", Short: "Developer tools: generate large inventories for scale tests", Hidden: true}
	var keys, events int
	var dataDir string
	seed := &cobra.Command{
		Use:   "seed",
		Short: "Fill a new database with generated keys and events (e.g. --keys 1000000 --events 10000000)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keys < 0 || events < 0 {
				return Usagef("--keys and --events must not be negative")
			}
			if dataDir == "" {
				cfg, err := a.Config()
				if err != nil {
					return err
				}
				dataDir = cfg.DataDir
			}
			path := filepath.Join(dataDir, "keyward.db")
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists; refusing to add generated keys to a real inventory (use a new --data-dir)", path)
			}
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				return err
			}
			s, err := store.Open(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer s.Close()
			start := time.Now()
			last := time.Now()
			err = generate.Run(cmd.Context(), s, generate.Options{Keys: keys, Events: events, Progress: func(k, e int) {
				if time.Since(last) > 2*time.Second {
					fmt.Fprintf(a.Err, "  %d keys, %d events…\n", k, e)
					last = time.Now()
				}
			}})
			if err != nil {
				return err
			}
			if _, err := s.DB().ExecContext(cmd.Context(), "ANALYZE"); err != nil {
				return err
			}
			fi, _ := os.Stat(path)
			fmt.Fprintf(a.Out, "generated %d keys and %d events in %s into %s (%.0f MiB)\nrun: keyward daemon --config <a keyward.toml with data_dir = %q>\n",
				keys, events, time.Since(start).Round(time.Second), path, float64(fi.Size())/(1<<20), dataDir)
			return nil
		},
	}
	seed.Flags().IntVar(&keys, "keys", 100000, "keys to generate")
	seed.Flags().IntVar(&events, "events", 1000000, "activity events to generate")
	seed.Flags().StringVar(&dataDir, "data-dir", "", "data dir of the new database (default: the config's)")
	cmd.AddCommand(seed)
	return cmd
}
