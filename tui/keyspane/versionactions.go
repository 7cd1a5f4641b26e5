package keyspane

import (
	"context"
	"fmt"
	"slices"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/table"
)

// The actions on one version of a cloud key, as its menu names them. Each
// is offered only where the key's source announces its capability
// (engine.CapVersion*), as the daemon says in GET /v1/cloud/sources.
const (
	actVersionEnable  = "version-enable"
	actVersionDisable = "version-disable"
	actVersionDelete  = "version-delete"
	actVersionRecover = "version-recover"
	actVersionPrimary = "version-primary"
)

// versionActions is the actions key as the versions list's help shows it.
func versionActions(k *common.KeyMap) key.Binding {
	return key.NewBinding(key.WithKeys(k.Actions.Keys()...), key.WithHelp(k.Actions.Help().Key, "version actions"))
}

// openVersions lists the open key's versions, the key's own selected;
// opened before the key's detail has come, it fills in when it does.
func (m *Model) openVersions() tea.Cmd {
	d := m.detail
	m.versions = newVersionsView(m.ctx, d.key, m.cloud[d.key.Source].PrimaryTag)
	m.versions.setSize(m.width, m.height)
	if d.detail != nil || d.err != nil {
		return m.onVersions(d.detail, d.err)
	}
	return nil
}

// onVersions fills the versions list from the open key's detail (or its
// error); a key without versions closes it, saying why.
func (m *Model) onVersions(detail *api.KeyDetail, err error) tea.Cmd {
	v := m.versions
	switch {
	case err != nil:
		v.err, v.loading = err, false
		return nil
	case detail == nil:
		return nil
	case len(detail.Versions) == 0:
		m.versions = nil
		return common.FlashErr(table.Clean(detail.Key.Name) + " has no versions: it comes from " + table.Clean(detail.Key.Source) + ", whose keys are not versioned")
	}
	v.set(detail.Versions, detail.VersionsTotal)
	return nil
}

// updateVersions handles a key press in the versions list.
func (m *Model) updateVersions(msg tea.KeyMsg) tea.Cmd {
	v, k := m.versions, m.ctx.Keys
	switch {
	case key.Matches(msg, k.Back):
		m.versions = nil
		return nil
	case key.Matches(msg, k.Reload):
		return m.fetchDetail(m.detail.key.ID)
	case v.move(msg):
		return nil
	case key.Matches(msg, k.Open):
		if sel, ok := v.selected(); ok {
			return m.openDetail(sel)
		}
	case key.Matches(msg, k.Actions):
		if sel, ok := v.selected(); ok {
			return m.openVersionActions(sel)
		}
	case key.Matches(msg, k.SyncSource):
		return m.sync(v.source)
	}
	return nil
}

// openVersionActions opens the action menu of one version.
func (m *Model) openVersionActions(v engine.Key) tea.Cmd {
	return m.openCloudMenu(v, "Actions — version "+table.Clean(shortVersion(v.Version))+" of "+table.Clean(v.Name),
		"its versions are managed there", m.versionMenu)
}

// versionMenu lists what the source announces for one version in v's
// state; what changes the vault is hidden read-only.
func (m *Model) versionMenu(v engine.Key, src api.CloudSourceInfo) *dialog.Menu {
	km := m.ctx.Keys
	var items []dialog.Item
	var cannot []string
	add := func(cp, id string, b key.Binding, label string, danger bool) {
		if !slices.Contains(src.Capabilities, cp) || m.readOnly() {
			return
		}
		if why := v.Unsupported(cp); why != "" {
			cannot = append(cannot, cp+": "+table.Clean(why))
			return
		}
		items = append(items, dialog.Item{ID: id, Key: b, Label: label, Danger: danger})
	}
	primary := src.PrimaryTag != "" && v.Tags[src.PrimaryTag] == "true"
	switch v.State {
	case engine.StateActive:
		if !primary {
			add(engine.CapVersionPrimary, actVersionPrimary, km.ActPrimary, "make this version the primary (the one that encrypts)", false)
		}
		add(engine.CapVersionEnable, actVersionDisable, km.ActToggle, "disable this version", true)
		add(engine.CapVersionDelete, actVersionDelete, km.ActDelete, "schedule this version's destruction", true)
	case engine.StateDisabled:
		add(engine.CapVersionEnable, actVersionEnable, km.ActToggle, "enable this version", false)
		add(engine.CapVersionDelete, actVersionDelete, km.ActDelete, "schedule this version's destruction", true)
	case engine.StateDeleted:
		add(engine.CapVersionRecover, actVersionRecover, km.ActRecover, "restore this version (cancel its destruction)", false)
	}
	intro := []string{fmt.Sprintf("Version %s of %s · %s · %s %s", v.Version, v.Name, v.State, src.Kind, src.Address)}
	if primary {
		intro = append(intro, "This version is the primary: new data is encrypted with it.")
	}
	intro = append(intro, cannot...)
	if h, ok := m.health[src.Name]; ok && h.Health == engine.HealthDegraded {
		intro = append(intro, "⚠ "+src.Name+" is degraded — actions may be refused")
	}
	if m.readOnly() {
		intro = append(intro, m.readOnlyNote("actions that change the vault"))
	}
	empty := fmt.Sprintf("vault %s offers no action on a %s version", src.Name, v.State)
	if !slices.ContainsFunc(engine.VersionCapabilities, func(cp string) bool { return slices.Contains(src.Capabilities, cp) }) {
		empty = fmt.Sprintf("vault %s (%s) announces no action on single versions: x on the key acts on the whole key", src.Name, src.Kind)
	}
	return &dialog.Menu{
		Title: "Actions — version " + table.Clean(shortVersion(v.Version)) + " of " + table.Clean(v.Name),
		Intro: intro, Items: items, Empty: empty,
	}
}

// chooseVersion starts the version action picked in the menu: a
// confirmation naming the version, the key's name typed again for what
// cannot be undone at once (destruction), as for the key's own delete.
func (m *Model) chooseVersion(f *flow, it dialog.Item) {
	v, src, b := f.key, f.src, m.ctx.Backend
	name, vault, ver := table.Clean(v.Name), table.Clean(src.Name), table.Clean(v.Version)
	where := fmt.Sprintf("vault %s (%s)", src.Name, src.Address)
	of := "version " + ver + " of " + name
	f.what = it.ID + " " + of
	versionOp := func(op, confirm, done string) actionRun {
		return cloudKeyRun(done, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.CloudVersionOp(ctx, src.Name, v.Name, op, v.Version, confirm)
		})
	}
	confirm := func(title, require string, danger bool, lines ...string) {
		f.Show(nil, dialog.NewConfirm(title, lines, require, danger), nil, nil)
	}
	switch it.ID {
	case actVersionEnable, actVersionDisable:
		enabled := it.ID == actVersionEnable
		verb := map[bool]string{true: "enable", false: "disable"}[enabled]
		f.Run = cloudKeyRun(verb+"d "+of+" in "+vault, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.UpdateCloudKey(ctx, src.Name, v.Name, api.UpdateKeyRequest{Version: v.Version, Enabled: &enabled})
		})
		line := "Version " + v.Version + " of " + v.Name + " can be used again."
		if !enabled {
			line = "Version " + v.Version + " of " + v.Name + " can no longer encrypt or decrypt until it is enabled again; the key's other versions are not changed."
		}
		confirm(fmt.Sprintf("%s version %s of %s in %s?", map[bool]string{true: "Enable", false: "Disable"}[enabled], ver, name, vault), "", !enabled, line, "In "+where+".")
	case actVersionPrimary:
		f.Run = versionOp("make-primary", "", "made "+of+" the primary in "+vault)
		confirm("Make version "+ver+" the primary of "+name+" in "+vault+"?", "", false,
			"New data is encrypted with version "+v.Version+" of "+v.Name+" from now on; the other versions still decrypt.", "In "+where+".")
	case actVersionDelete:
		f.Run = versionOp("delete", v.Name, "scheduled the destruction of "+of+" in "+vault)
		confirm("Schedule the destruction of version "+ver+" of "+name+" in "+vault+"?", v.Name, true,
			"The "+where+" schedules version "+v.Version+" of "+v.Name+" for destruction: it stops working now and is destroyed when the waiting period ends, unless it is restored before. The key's other versions are not changed.")
	case actVersionRecover:
		f.Run = versionOp("recover", "", "restored "+of+" in "+vault)
		confirm("Restore version "+ver+" of "+name+" in "+vault+"?", "", false,
			"The destruction of version "+v.Version+" of "+v.Name+" is cancelled in "+where+"; it is enabled again.")
	}
}
