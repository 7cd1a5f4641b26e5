package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// Shell completion (keyward completion bash|zsh|fish) suggests live values
// from the daemon: key ids and names, sources, applications, aging buckets.
// It must not make a shell wait or print on the terminal, so each question
// to the daemon is bounded by completeTimeout and any failure (no daemon, a
// refusal, a timeout) suggests nothing.

// completeTimeout bounds what one completion asks the daemon.
const completeTimeout = 500 * time.Millisecond

// completeLimit bounds how many keys one completion lists.
const completeLimit = 200

// liveValues asks the daemon for the values a flag or argument takes.
type liveValues func(ctx context.Context, c *api.Client, args []string, toComplete string) ([]string, error)

// completion turns values into a cobra completion function: the values that
// start with what is typed, no file names, nothing when the daemon fails.
func (a *App) completion(values liveValues) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
		defer cancel()
		vals, err := values(ctx, a.Client().WithTimeout(completeTimeout), args, toComplete)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return matching(vals, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// fixedValues completes a flag from a fixed list, without the daemon.
func fixedValues[T ~string](vals ...T) cobra.CompletionFunc {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = string(v)
	}
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []string
		for _, v := range s {
			if strings.HasPrefix(v, toComplete) {
				out = append(out, v)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func matching(vals []string, prefix string) []string {
	var out []string
	for _, v := range vals {
		if strings.HasPrefix(v, prefix) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// sourceNames are the sources of keys: not the schedules' health rows
// (schedule:NAME), which have no keys and cannot be synced.
func sourceNames(ctx context.Context, c *api.Client, _ []string, _ string) ([]string, error) {
	infos, err := c.Sources(ctx)
	var out []string
	for _, s := range infos {
		if s.Kind != api.ScheduleSourceKind {
			out = append(out, s.Name)
		}
	}
	return out, err
}

// applications are the KMIP rings' applications and the proxied ones.
func applications(ctx context.Context, c *api.Client, _ []string, _ string) ([]string, error) {
	infos, err := c.Sources(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range infos {
		for _, r := range s.Rings {
			out = append(out, r.Application)
		}
	}
	// The rings are enough when the proxy's status cannot be had.
	apps, _ := c.Proxy(ctx)
	for _, p := range apps {
		out = append(out, p.App)
	}
	return out, nil
}

// keyIDs are the ids of the keys whose id contains what is typed, for a
// --key flag or a command's one ID argument.
func keyIDs(ctx context.Context, c *api.Client, args []string, toComplete string) ([]string, error) {
	if len(args) > 0 {
		return nil, nil
	}
	// The daemon's text filter matches within a name, so a typed
	// "source/name" asks for that source's keys containing the name.
	id := func(k engine.Key) string { return k.ID }
	if src, name, ok := strings.Cut(toComplete, "/"); ok {
		return keyValues(ctx, c, api.KeyQuery{Source: src, Text: name, Sort: "source"}, id)
	}
	out, err := keyValues(ctx, c, api.KeyQuery{Text: toComplete, Sort: "source"}, id)
	if err != nil {
		return nil, err
	}
	// An id starts with its source: what is typed may be the start of a
	// source's name ("az" for azure-demo/…), which no key's name contains.
	srcs, err := sourceNames(ctx, c, nil, "")
	if err != nil {
		return nil, err
	}
	for _, s := range srcs {
		if toComplete != "" && strings.HasPrefix(s, toComplete) && len(out) < completeLimit {
			more, err := keyValues(ctx, c, api.KeyQuery{Source: s, Sort: "source"}, id)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		}
	}
	return out, nil
}

// keyNameArgs completes SOURCE NAME: the sources, then the names of the
// keys of the source given.
func keyNameArgs(ctx context.Context, c *api.Client, args []string, toComplete string) ([]string, error) {
	switch len(args) {
	case 0:
		return sourceNames(ctx, c, args, toComplete)
	case 1:
		return keyValues(ctx, c, api.KeyQuery{Source: args[0], Text: toComplete}, func(k engine.Key) string { return k.Name })
	}
	return nil, nil
}

// keyValues is one value of each of the first completeLimit keys q finds.
func keyValues(ctx context.Context, c *api.Client, q api.KeyQuery, value func(engine.Key) string) ([]string, error) {
	q.Limit = completeLimit
	p, err := c.Keys(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(p.Keys))
	for _, k := range p.Keys {
		out = append(out, value(k))
	}
	return out, nil
}

func agingBuckets(ctx context.Context, c *api.Client, _ []string, _ string) ([]string, error) {
	s, err := c.AgingSummary(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(s.Buckets))
	for _, b := range s.Buckets {
		out = append(out, string(b.Bucket))
	}
	return out, nil
}

// flagValues are the completions of the flags every command names alike.
func (a *App) flagValues() map[string]cobra.CompletionFunc {
	sorts := make([]string, 0, 2*len(engine.SortFields))
	for _, f := range engine.SortFields {
		sorts = append(sorts, string(f), "-"+string(f))
	}
	return map[string]cobra.CompletionFunc{
		"source":      a.completion(sourceNames),
		"from-source": a.completion(sourceNames),
		"app":         a.completion(applications),
		"from-app":    a.completion(applications),
		"key":         a.completion(keyIDs),
		"aging":       a.completion(agingBuckets),
		"state":       fixedValues(engine.States...),
		"sort":        fixedValues(sorts...),
		"origin":      fixedValues(engine.OriginKeyward, engine.OriginSource, engine.OriginProxy, engine.OriginSystem),
	}
}

// registerCompletions gives every command of the tree its flags' completions
// (a --format flag lists what its usage names) and the key commands their
// arguments'.
func (a *App) registerCompletions(root *cobra.Command) {
	byName := a.flagValues()
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		cmd.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) {
			if fn, ok := byName[f.Name]; ok && f.Value.Type() == "string" {
				cmd.RegisterFlagCompletionFunc(f.Name, fn)
			}
		})
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}
