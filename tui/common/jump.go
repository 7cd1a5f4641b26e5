package common

import (
	"context"
	"errors"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/table"
)

// OpenSourceMsg asks the root to show one source in the Sources pane (from
// a key's detail): esc there comes back.
type OpenSourceMsg struct{ Name string }

// SourceKeysMsg asks the root to show the Keys pane filtered to one source
// (from the source's view): esc there clears the filter and comes back.
type SourceKeysMsg struct{ Source string }

// OpenScheduleMsg asks the root to show one schedule in the Schedules
// pane (from its health row in the Sources pane): esc there comes back.
type OpenScheduleMsg struct{ Name string }

// ScheduleHealthKind is the kind of the rows schedules keep beside the
// sources (their health, named schedule:NAME): they have no keys and do not
// sync.
const ScheduleHealthKind = "schedule"

// ScheduleOfRow is the schedule whose health row s is ("", false for a
// source).
func ScheduleOfRow(s engine.Source) (string, bool) {
	if s.Kind != ScheduleHealthKind {
		return "", false
	}
	return strings.TrimPrefix(s.Name, "schedule:"), true
}

// OpenSchedule is a command that sends OpenScheduleMsg.
func OpenSchedule(name string) tea.Cmd { return func() tea.Msg { return OpenScheduleMsg{Name: name} } }

// OpenSource is a command that sends OpenSourceMsg.
func OpenSource(name string) tea.Cmd { return func() tea.Msg { return OpenSourceMsg{Name: name} } }

// SourceKeys is a command that sends SourceKeysMsg.
func SourceKeys(source string) tea.Cmd {
	return func() tea.Msg { return SourceKeysMsg{Source: source} }
}

// FindKeyOrID opens the key whose id is arg, else the one key named arg
// (a name may hold slashes too: Google's location/ring/key), as FindKey.
func FindKeyOrID(c *Context, arg string) tea.Cmd {
	byName := FindKey(c, "", arg, "")
	return func() tea.Msg {
		_, err := Get(c, func(ctx context.Context) (*api.KeyDetail, error) { return c.Backend.Key(ctx, arg) })
		var ae *api.Error
		switch {
		case err == nil:
			return OpenKeyMsg{ID: arg}
		case errors.As(err, &ae) && ae.Code == api.CodeNotFound:
			return byName()
		}
		return FlashMsg{Text: "cannot look up " + table.Clean(arg) + ": " + Explain(err), Err: true}
	}
}

// FindKey opens the key named name (in source, when source is not ""), or
// known as name (an AWS key by any of its aliases): it is looked up, and must be
// exactly one key (a fingerprint, when not "",
// tells keys of the same name apart). The answer is an OpenKeyMsg, or a
// flash saying why not.
func FindKey(c *Context, source, name, fingerprint string) tea.Cmd {
	return func() tea.Msg {
		page, err := Get(c, func(ctx context.Context) (*api.KeysPage, error) {
			return c.Backend.Keys(ctx, api.KeyQuery{Source: source, Text: name, Limit: 50})
		})
		if err != nil {
			return FlashMsg{Text: "cannot look up " + table.Clean(name) + ": " + Explain(err), Err: true}
		}
		// The fingerprint picks one of a name's keys; a key the inventory
		// holds without one (material never read) is found by name alone.
		var ids, same []string
		for _, k := range page.Keys {
			if k.Name == name || k.ID == name || slices.Contains(k.Aliases(), name) {
				ids = append(ids, k.ID)
				if fingerprint != "" && k.Fingerprint == fingerprint {
					same = append(same, k.ID)
				}
			}
		}
		if len(same) == 1 {
			ids = same
		}
		switch len(ids) {
		case 0:
			where := ""
			if source != "" {
				where = " in " + table.Clean(source)
			}
			return FlashMsg{Text: "no key named " + table.Clean(name) + where, Err: true}
		case 1:
			return OpenKeyMsg{ID: ids[0]}
		}
		if src := oneSource(page.Keys, ids); src != "" {
			// A cloud key's versions: one key, each version its own row.
			return FlashMsg{Text: table.Clean(name) + " has " + Plural(len(ids), "version") + " in " + table.Clean(src) +
				": use the id of one: " + table.Clean(strings.Join(ids, ", ")), Err: true}
		}
		return FlashMsg{Text: table.Clean(name) + " names " + Plural(len(ids), "key") + " (in several sources): use its id: " +
			table.Clean(strings.Join(ids, ", ")), Err: true}
	}
}

// oneSource is the source every key of ids (found in keys) is in, "" when
// they are in more than one.
func oneSource(keys []engine.Key, ids []string) string {
	src := ""
	for _, k := range keys {
		if !slices.Contains(ids, k.ID) {
			continue
		}
		if src != "" && k.Source != src {
			return ""
		}
		src = k.Source
	}
	return src
}
