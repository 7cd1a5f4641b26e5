package common

import "github.com/charmbracelet/bubbles/key"

// KeyMap is the one key map of the TUI: handlers, the help line and the help
// overlay all read these bindings, so they can never disagree.
type KeyMap struct {
	// Global.
	Quit    key.Binding
	Help    key.Binding
	NextTab key.Binding
	PrevTab key.Binding
	GoTab   key.Binding
	Log     key.Binding
	Command key.Binding

	// Lists and tables.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Home     key.Binding
	End      key.Binding
	HalfUp   key.Binding
	HalfDown key.Binding
	Open     key.Binding
	Back     key.Binding

	// Keys pane.
	Filter       key.Binding
	ClearFilter  key.Binding
	ApplyFilter  key.Binding
	Sort         key.Binding
	Reverse      key.Binding
	StateFilter  key.Binding
	SourceFilter key.Binding
	AgingFilter  key.Binding
	StateBack    key.Binding
	SourceBack   key.Binding
	AgingBack    key.Binding
	ClearAll     key.Binding
	Reload       key.Binding
	CopyID       key.Binding
	CopyFP       key.Binding
	// Jumps between related things: a key's source, a source's keys.
	GoSource key.Binding
	GoKeys   key.Binding
	// Versions lists a cloud key's versions (from its detail).
	Versions key.Binding

	// Report panes.
	Earlier    key.Binding
	Later      key.Binding
	Wider      key.Binding
	Narrower   key.Binding
	Comparison key.Binding
	Export     key.Binding

	// Actions: the Keys pane's cloud key actions, stored backups and sync,
	// the Sources pane's certificate actions.
	Actions    key.Binding
	Backups    key.Binding
	SyncSource key.Binding
	SyncAll    key.Binding
	Certs      key.Binding

	// Dialogs (menus, confirmations, forms).
	Confirm   key.Binding
	Cancel    key.Binding
	NextField key.Binding
	PrevField key.Binding

	// Items of the cloud key action menu.
	ActRotate  key.Binding
	ActToggle  key.Binding
	ActEdit    key.Binding
	ActPolicy  key.Binding
	ActBackup  key.Binding
	ActRestore key.Binding
	ActDelete  key.Binding
	ActRecover key.Binding
	ActPurge   key.Binding
	// ActDeleteMaterial deletes a key's imported material (AWS).
	ActDeleteMaterial key.Binding
	ActCreate         key.Binding
	ActUpload         key.Binding
	// ActPrimary makes a version the key's primary (a version's menu).
	ActPrimary key.Binding

	// Schedules pane.
	SchedRun    key.Binding
	SchedPause  key.Binding
	SchedDryRun key.Binding

	// Items of the certificate menu.
	CertShow    key.Binding
	CertCSR     key.Binding
	CertInstall key.Binding
	CertImport  key.Binding
}

// DefaultKeyMap returns keyward's bindings.
func DefaultKeyMap() *KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		Quit:    b([]string{"q", "ctrl+c"}, "q", "quit"),
		Help:    b([]string{"?"}, "?", "help"),
		NextTab: b([]string{"tab"}, "tab", "next pane"),
		PrevTab: b([]string{"shift+tab"}, "shift+tab", "previous pane"),
		GoTab:   b([]string{"1", "2", "3", "4", "5", "6", "7"}, "1-7", "go to pane"),
		Log:     b([]string{"L"}, "L", "message log"),
		Command: b([]string{":"}, ":", "command line"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "ctrl+b"}, "pgup", "page up"),
		PageDown: b([]string{"pgdown", "ctrl+f", " "}, "pgdn", "page down"),
		Home:     b([]string{"home", "g"}, "g", "first row"),
		End:      b([]string{"end", "G"}, "G", "last row"),
		HalfUp:   b([]string{"ctrl+u"}, "ctrl+u", "half page up"),
		HalfDown: b([]string{"ctrl+d"}, "ctrl+d", "half page down"),
		Open:     b([]string{"enter"}, "enter", "details"),
		Back:     b([]string{"esc", "backspace"}, "esc", "back"),

		Filter:       b([]string{"/"}, "/", "filter"),
		ClearFilter:  b([]string{"esc"}, "esc", "clear filter"),
		ApplyFilter:  b([]string{"enter"}, "enter", "apply filter"),
		Sort:         b([]string{"s"}, "s", "sort by"),
		Reverse:      b([]string{"S"}, "S", "reverse sort"),
		StateFilter:  b([]string{"f"}, "f", "state filter"),
		SourceFilter: b([]string{"o"}, "o", "source filter"),
		AgingFilter:  b([]string{"a"}, "a", "aging filter"),
		StateBack:    b([]string{"F"}, "F", "state filter, backwards"),
		SourceBack:   b([]string{"O"}, "O", "source filter, backwards"),
		AgingBack:    b([]string{"A"}, "A", "aging filter, backwards"),
		ClearAll:     b([]string{"esc"}, "esc", "clear every filter"),
		Reload:       b([]string{"r", "ctrl+r"}, "r", "reload"),
		CopyID:       b([]string{"c"}, "c", "copy the key id"),
		CopyFP:       b([]string{"C"}, "C", "copy the fingerprint"),
		GoSource:     b([]string{"o"}, "o", "in a key: open its source"),
		GoKeys:       b([]string{"K"}, "K", "in a source: its keys"),
		Versions:     b([]string{"V"}, "V", "in a key: its versions"),

		SchedRun:    b([]string{"R"}, "R", "run now"),
		SchedPause:  b([]string{"p"}, "p", "pause"),
		SchedDryRun: b([]string{"d"}, "d", "dry run"),

		Earlier:    b([]string{"["}, "[", "range earlier"),
		Later:      b([]string{"]"}, "]", "range later"),
		Wider:      b([]string{"+", "="}, "+", "wider range"),
		Narrower:   b([]string{"-"}, "-", "narrower range"),
		Comparison: b([]string{"c"}, "c", "only seen in source"),
		Export:     b([]string{"e"}, "e", "export CSV"),

		Actions:    b([]string{"x"}, "x", "key actions"),
		Backups:    b([]string{"B"}, "B", "stored backups"),
		SyncSource: b([]string{"y"}, "y", "sync this source"),
		SyncAll:    b([]string{"Y"}, "Y", "sync all sources"),
		Certs:      b([]string{"c"}, "c", "certificates"),

		Confirm:   b([]string{"enter"}, "enter", "confirm"),
		Cancel:    b([]string{"esc"}, "esc", "cancel"),
		NextField: b([]string{"tab", "down"}, "tab/↓", "next field"),
		PrevField: b([]string{"shift+tab", "up"}, "shift+tab/↑", "previous field"),

		ActRotate:         b([]string{"r"}, "r", "rotate (new version)"),
		ActToggle:         b([]string{"e"}, "e", "enable / disable"),
		ActEdit:           b([]string{"t"}, "t", "expiry, not-before, tags"),
		ActPolicy:         b([]string{"o"}, "o", "rotation policy"),
		ActBackup:         b([]string{"b"}, "b", "back up"),
		ActRestore:        b([]string{"s"}, "s", "restore a backup"),
		ActDelete:         b([]string{"d"}, "d", "delete (soft)"),
		ActRecover:        b([]string{"v"}, "v", "recover"),
		ActPurge:          b([]string{"p"}, "p", "purge for good"),
		ActDeleteMaterial: b([]string{"m"}, "m", "delete imported material"),
		ActCreate:         b([]string{"n"}, "n", "new key in this vault"),
		ActUpload:         b([]string{"u"}, "u", "upload (bring your own key)"),
		ActPrimary:        b([]string{"P"}, "P", "make primary"),

		CertShow:    b([]string{"s"}, "s", "show installed certificate"),
		CertCSR:     b([]string{"c"}, "c", "new key + CSR"),
		CertInstall: b([]string{"i"}, "i", "install signed certificate"),
		CertImport:  b([]string{"m"}, "m", "import keystore (JKS/PKCS#12)"),
	}
}

// Global is the group shown first in the help overlay.
func (k *KeyMap) Global() []key.Binding {
	return []key.Binding{k.NextTab, k.PrevTab, k.GoTab, k.Command, k.Help, k.Log, k.Quit}
}

// SetReadOnly turns off the bindings that only change something (sync), so
// they are neither handled nor listed in help. Menus that mix reading and
// changing (x, B, the certificates) stay and list only what reads.
func (k *KeyMap) SetReadOnly(on bool) {
	for _, b := range []*key.Binding{&k.SyncSource, &k.SyncAll, &k.SchedRun, &k.SchedPause} {
		b.SetEnabled(!on)
	}
}
