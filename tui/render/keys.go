package render

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/table"
)

// The cells of a key's row (Key), in this order: the Keys pane's columns
// are the first ten; the id, the creation date, the key it was uploaded
// from and the alias beside the id only the CLI shows.
const (
	KeyName = iota
	KeySource
	KeyApplication
	KeyVersion
	KeyAlgorithm
	KeyState
	KeyAging
	KeyExpires
	KeyAge
	KeyFingerprint
	KeyID
	KeyCreated
	KeyLinkedTo
	KeyAlias
	keyCells
)

// KeyPaneColumns are the Keys pane's columns, indexed like Key's cells;
// Priority says which survive a narrow terminal (name, state and aging
// first).
func KeyPaneColumns() []table.Column {
	return []table.Column{
		KeyName:        {Title: "NAME", Width: 16, Max: 40, Priority: 0},
		KeySource:      {Title: "SOURCE", Width: 10, Max: 18, Priority: 3},
		KeyApplication: {Title: "APPLICATION", Width: 11, Max: 20, Priority: 9},
		KeyVersion:     {Title: "VER", Width: 4, Max: VersionWidth, Priority: 4, TellsApart: true}, // versions of one key share a name
		KeyAlgorithm:   {Title: "ALGORITHM", Width: 9, Max: 14, Priority: 5},
		KeyState:       {Title: "STATE", Width: 11, Priority: 1},
		KeyAging:       {Title: "AGING", Width: 16, Priority: 2}, // rotation-overdue
		KeyExpires:     {Title: "EXPIRES", Width: 10, Priority: 6},
		KeyAge:         {Title: "AGE", Width: 7, Priority: 7, Right: true},
		KeyFingerprint: {Title: "FINGERPRINT", Width: 12, Priority: 8},
	}
}

// keyListCells and keyListColumns are keyward keys list's columns, sized by
// their content: on a narrow terminal the fingerprint goes first, then the
// creation date, the algorithm and the expiry; the id, the alias (the name
// an AWS key is known by: its id holds only the key ID), state and aging
// bucket always stay — an id too long for the rest is cut before them.
var (
	keyListCells   = []int{KeyID, KeyAlias, KeyState, KeyAging, KeyAlgorithm, KeyCreated, KeyExpires, KeyFingerprint}
	keyListColumns = []table.Column{{Title: "ID", Width: 12}, {Title: "ALIAS", Width: 5}, {Title: "STATE", Width: 6}, {Title: "AGING", Width: 7},
		{Title: "ALGORITHM", Width: 6, Priority: 3}, {Title: "CREATED", Width: 10, Priority: 4}, {Title: "EXPIRES", Width: 10, Priority: 2},
		{Title: "FINGERPRINT", Width: 12, Priority: 5}}
)

// Key renders one key: its cells (see KeyName…), the state and aging
// cells in their values' classes, its CSV record as the export writes it
// (api.KeyCSVRecord), and its aging bucket as the row's class.
func Key(k engine.Key, now time.Time) Row {
	r := Row{Cells: make([]string, keyCells), Classes: make([]string, keyCells), Raw: api.KeyCSVRecord(k)}
	r.Cells[KeyName] = k.DisplayName()
	r.Cells[KeySource] = k.Source
	r.Cells[KeyApplication] = dash(k.Application)
	r.Cells[KeyVersion] = dash(k.Version)
	r.Cells[KeyAlgorithm] = Algorithm(k)
	r.Cells[KeyState], r.Classes[KeyState] = string(k.State), StateClass(string(k.State))
	r.Cells[KeyAging] = Dash
	if k.Aging != nil {
		r.Cells[KeyAging], r.Classes[KeyAging] = AgingLabel(k.Aging.Bucket), BucketClass(string(k.Aging.Bucket))
		r.Class = string(k.Aging.Bucket)
	}
	r.Cells[KeyExpires] = Date(k.Expires)
	r.Cells[KeyAge] = Dash
	if k.Created != nil {
		r.Cells[KeyAge] = engine.HumanDuration(k.Age(now))
	}
	r.Cells[KeyFingerprint], r.Classes[KeyFingerprint] = ShortFingerprint(k.Fingerprint), ClassMuted
	r.Cells[KeyID] = k.ID
	r.Cells[KeyCreated] = Date(k.Created)
	r.Cells[KeyLinkedTo] = dash(k.LinkedTo)
	r.Cells[KeyAlias] = AliasCell(k)
	return r
}

// Pick is r with only the cells at idx, in that order.
func Pick(r Row, idx []int) Row {
	out := Row{Cells: make([]string, len(idx)), Classes: make([]string, len(idx)), Raw: r.Raw, Class: r.Class}
	for j, i := range idx {
		out.Cells[j] = r.Cells[i]
		if i < len(r.Classes) {
			out.Classes[j] = r.Classes[i]
		}
	}
	return out
}

// keyVersionCells and keyVersionColumns are the versions of one cloud key
// as keyward key create|rotate|… prints them after the operation.
var (
	keyVersionCells   = []int{KeyVersion, KeyState, KeyAlgorithm, KeyCreated, KeyExpires, KeyLinkedTo}
	keyVersionColumns = []table.Column{{Title: "VERSION", Width: 7}, {Title: "STATE", Width: 5}, {Title: "ALGORITHM", Width: 9},
		{Title: "CREATED", Width: 10}, {Title: "EXPIRES", Width: 10}, {Title: "LINKED TO", Width: 9}}
)

// KeyVersions is the table of one cloud key's versions, in the order of
// versions.
func KeyVersions(versions []engine.Key, now time.Time) Table {
	return Build(keyVersionColumns, api.KeyCSVHeader, versions, func(k engine.Key) Row { return Pick(Key(k, now), keyVersionCells) })
}

// versionPaneCells are the Keys pane's list of one key's versions
// (VersionPaneColumns): the version tells the rows apart and stays whole
// as long as it can (an Azure version is 32 hex digits), then its state
// and aging; the dates and the algorithm give way first.
var versionPaneCells = []int{KeyVersion, KeyState, KeyAging, KeyCreated, KeyExpires, KeyAlgorithm}

// VersionPaneColumns are the columns of VersionPaneRow; primary adds the
// PRIMARY column, for a source whose keys have a primary version.
func VersionPaneColumns(primary bool) []table.Column {
	cols := []table.Column{
		{Title: "VERSION", Width: VersionWidth, Max: 32, Priority: 0},
		{Title: "STATE", Width: 11, Priority: 1},
		{Title: "AGING", Width: 16, Priority: 2},
		{Title: "CREATED", Width: 10, Priority: 3},
		{Title: "EXPIRES", Width: 10, Priority: 4},
		{Title: "ALGORITHM", Width: 9, Max: 14, Priority: 5},
	}
	if primary {
		cols = slices.Insert(cols, 1, table.Column{Title: "PRIMARY", Width: 7, Priority: 1})
	}
	return cols
}

// VersionPaneRow is one version as the Keys pane's versions list shows it;
// with primaryTag (the tag that marks the primary version, as the source
// announces it) the PRIMARY cell says "primary" on that version (a word:
// it reads without colour).
func VersionPaneRow(k engine.Key, now time.Time, primaryTag string) Row {
	r := Pick(Key(k, now), versionPaneCells)
	if primaryTag == "" {
		return r
	}
	cell, class := "", ""
	if k.Tags[primaryTag] == "true" {
		cell, class = "primary", ClassEncrypts
	}
	r.Cells = slices.Insert(r.Cells, 1, cell)
	r.Classes = slices.Insert(r.Classes, 1, class)
	return r
}

// KeyList is an empty table of keyward keys list's columns; add rows with
// KeyListRow.
func KeyList() Table {
	return Table{Columns: keyListColumns, Header: api.KeyCSVHeader}
}

// KeyListRow is a key as keyward keys list's table shows it.
func KeyListRow(k engine.Key, now time.Time) Row { return Pick(Key(k, now), keyListCells) }

// AliasCell is the name a key is known by when its id does not say it —
// an AWS key's first alias, with how many more it has ("payments +2":
// keyward keys show lists them) — else Dash.
func AliasCell(k engine.Key) string {
	var other []string
	for _, a := range k.Aliases() {
		if a != k.Name {
			other = append(other, a)
		}
	}
	switch len(other) {
	case 0:
		return Dash
	case 1:
		return other[0]
	}
	return other[0] + " +" + strconv.Itoa(len(other)-1)
}

// VersionWidth is the most cells a version takes in a table: an Azure
// version (32 hex digits) is cut to its start and "…".
const VersionWidth = 8

// ShortVersion is a key's version as the Keys pane's column shows it at
// its widest: cut to VersionWidth cells, Dash when the key has none.
func ShortVersion(v string) string {
	return ansi.Truncate(dash(v), VersionWidth, "…")
}

// AgingLabel is the name of an aging bucket as every view shows it: the
// bucket's own name, the one the aging report's table, the filters, the CLI
// and the API use, so a bucket is never called two things. It is a word, so
// it reads without colour.
func AgingLabel(b engine.Bucket) string { return string(b) }

// Algorithm joins algorithm and length: AES-256, RSA-2048.
func Algorithm(k engine.Key) string {
	if k.Length > 0 && !strings.ContainsAny(k.Algorithm, " -") {
		return k.Algorithm + "-" + strconv.Itoa(k.Length)
	}
	return dash(k.Algorithm)
}

// ShortFingerprint drops a "sha256:" style prefix and keeps 12 characters.
func ShortFingerprint(fp string) string {
	if i := strings.IndexByte(fp, ':'); i >= 0 && i < 10 {
		fp = fp[i+1:]
	}
	if len(fp) > 12 {
		fp = fp[:12]
	}
	return dash(fp)
}

// Date renders a date as YYYY-MM-DD in UTC, or a dash.
func Date(t *time.Time) string {
	if t == nil {
		return Dash
	}
	return t.UTC().Format(time.DateOnly)
}
