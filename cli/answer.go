package cli

import "github.com/spf13/cobra"

// newAnswerCmd is a command that asks the daemon one thing and prints the
// answer: as text (text), or with --json (jsonUsage says what it prints)
// as JSON. run checks the arguments and flags, then asks.
func newAnswerCmd[T any](a *App, use, short string, args cobra.PositionalArgs, jsonUsage string,
	run func(cmd *cobra.Command, args []string) (T, error), text func(v T) error) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := run(cmd, args)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, v)
			}
			return text(v)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, jsonUsage)
	return cmd
}

// newKeyAnswerCmd is newAnswerCmd for a command on the key named SOURCE
// NAME (or SOURCE/NAME), completed from the inventory.
func newKeyAnswerCmd[T any](a *App, use, short, jsonUsage string,
	run func(cmd *cobra.Command, source, name string) (T, error), text func(v T) error) *cobra.Command {
	cmd := newAnswerCmd(a, use, short, cobra.RangeArgs(1, 2), jsonUsage, func(cmd *cobra.Command, args []string) (T, error) {
		source, name, err := keyArgs(args)
		if err != nil {
			var zero T
			return zero, err
		}
		return run(cmd, source, name)
	}, text)
	cmd.ValidArgsFunction = a.completion(keyNameArgs)
	return cmd
}
