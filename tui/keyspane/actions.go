package keyspane

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/dialog"
	"github.com/keyward/keyward/tui/render"
	"github.com/keyward/keyward/tui/table"
)

// SyncTimeout bounds a sync request: the daemon answers when the vault has.
const SyncTimeout = 2 * time.Minute

// Action names, as the menu and the result messages use them.
const (
	actRotate  = "rotate"
	actEnable  = "enable"
	actDisable = "disable"
	actEdit    = "edit"
	actPolicy  = "policy"
	actBackup  = "backup"
	actRestore = "restore"
	actDelete  = "delete"
	actRecover = "recover"
	actPurge   = "purge"
	// actDeleteMaterial deletes a key's imported material (AWS BYOK).
	actDeleteMaterial = "delete-material"
	actCreate         = "create"
	actUpload         = "upload"
	// actRestoreFrom is an entry of the restore menu (one backup, one target).
	actRestoreFrom = "restore-from"
	// The stored backups list (openBackups): the list, one backup picked
	// in it, and deleting that backup.
	actBackups      = "backups"
	actPickBackup   = "pick-backup"
	actDeleteBackup = "delete-backup"
)

// adminWhat names what an admin-only menu entry does, for the refusal a
// user sees; entries not listed are named by their ID.
var adminWhat = map[string]string{actRestoreFrom: "restoring a backup", actDeleteBackup: "deleting a backup"}

type cloudSourcesMsg struct {
	seq  int
	srcs []api.CloudSourceInfo
	err  error
}

// actionDoneMsg is the answer to one step of an action flow. then, when set
// and err is nil, continues the flow on the event loop (a policy read opens
// the policy form); otherwise text is the result for the flash line.
type actionDoneMsg struct {
	flow int
	what string
	text string
	err  error
	then func(m *Model) tea.Cmd
}

type syncDoneMsg struct {
	busy   int64
	source string
	res    *api.SyncResult
	err    error
}

// actionRun is one request of an action flow: the result for the flash
// line, or how the flow goes on.
type actionRun = func(ctx context.Context) (string, func(*Model) tea.Cmd, error)

// flow is one open action dialog on one key.
type flow struct {
	id  int
	key engine.Key
	src api.CloudSourceInfo
	// Run is what the confirmation sends, Submit checks the form and
	// returns what to send.
	dialog.Flow[actionRun]
	what string
	// resume, while the menu waits for the vaults' capabilities, opens
	// what was asked for once the daemon has said.
	resume func() tea.Cmd
}

// fetchCloud asks which sources are cloud vaults and what they support.
func (m *Model) fetchCloud() tea.Cmd {
	l := m.ctx.Backend
	m.cloudSeq++
	m.cloudLoading = true
	seq, c := m.cloudSeq, m.ctx
	return func() tea.Msg {
		srcs, err := common.Get(c, func(ctx context.Context) ([]api.CloudSourceInfo, error) { return l.CloudSources(ctx) })
		return common.Reply(common.PaneKeys, cloudSourcesMsg{seq: seq, srcs: srcs, err: err})
	}
}

func (m *Model) onCloudSources(msg cloudSourcesMsg) tea.Cmd {
	if msg.seq != m.cloudSeq {
		return nil
	}
	m.cloudLoading = false
	m.cloudErr = msg.err
	if m.noCloud = common.Unserved(msg.err); m.noCloud {
		m.cloudErr, msg.err = nil, nil // no route, so no vault
	}
	if msg.err == nil {
		m.cloud = make(map[string]api.CloudSourceInfo, len(msg.srcs))
		for _, s := range msg.srcs {
			m.cloud[s.Name] = s
		}
	}
	if m.versions != nil && msg.err == nil {
		m.versions.setPrimaryTag(m.cloud[m.versions.source].PrimaryTag)
	}
	if m.act != nil && m.act.resume != nil {
		open := m.act.resume
		m.act = nil
		return open()
	}
	return nil
}

// isCloud reports whether k comes from a cloud vault the daemon can act on.
func (m *Model) isCloud(k engine.Key) bool {
	_, ok := m.cloud[k.Source]
	return ok
}

func (m *Model) newFlow(k engine.Key) *flow {
	m.flowSeq++
	return &flow{id: m.flowSeq, key: k}
}

// openActions opens the action menu of k.
func (m *Model) openActions(k engine.Key) tea.Cmd {
	if k.Source == "" {
		return common.FlashErr("the key is still loading")
	}
	return m.openCloudMenu(k, "Actions — "+table.Clean(k.Name), "its life cycle is managed there", m.actionMenu)
}

// openCloudMenu opens menu (the key's or a version's actions) as k's flow,
// once the daemon has said which sources are cloud vaults (a menu titled
// title waits for that). A key of another source is refused, saying what
// its own source keeps (managed).
func (m *Model) openCloudMenu(k engine.Key, title, managed string, menu func(engine.Key, api.CloudSourceInfo) *dialog.Menu) tea.Cmd {
	if m.cloud == nil {
		return m.awaitCloud(title, func() tea.Cmd { return m.openCloudMenu(k, title, managed, menu) })
	}
	if m.noCloud {
		return common.FlashErr("this daemon offers no cloud key actions")
	}
	src, ok := m.cloud[k.Source]
	if !ok {
		return common.FlashErr(m.notCloud(k, managed))
	}
	f := m.newFlow(k)
	f.src = src
	f.Show(menu(k, src), nil, nil, nil)
	m.act = f
	return nil
}

// notCloud says why k has no cloud actions: its source is a KMS, which
// keeps its life cycle (managed); or a source of another kind the daemon
// acts on no more — a cloud vault whose section left keyward.toml keeps
// its keys in the inventory as last seen — named with its kind and the
// daemon's reason, never called "not a cloud vault".
func (m *Model) notCloud(k engine.Key, managed string) string {
	name, source := table.Clean(k.Name), table.Clean(k.Source)
	h, known := m.health[k.Source]
	if !known || h.Kind == "kmip" {
		return fmt.Sprintf("%s comes from %s, not a cloud vault: %s", name, source, managed)
	}
	why := fmt.Sprintf("%s comes from %s (%s), which this daemon offers no key actions for", name, source, table.Clean(h.Kind))
	if h.Reason != "" {
		why += ": " + table.Clean(h.Reason)
	}
	return why
}

// awaitCloud opens a menu titled title that waits for the daemon to say
// which sources are cloud vaults and what they support, then runs open; or
// says why it cannot be known.
func (m *Model) awaitCloud(title string, open func() tea.Cmd) tea.Cmd {
	if m.cloudErr != nil && !m.cloudLoading {
		err := m.cloudErr
		m.cloudErr = nil
		return tea.Batch(common.FlashErr("cannot list the cloud vaults: "+common.Explain(err)), m.fetchCloud())
	}
	f := m.newFlow(engine.Key{})
	f.resume = open
	f.Show(&dialog.Menu{Title: title, Status: dialog.Status{Busy: "asking the daemon what the vault supports…"}}, nil, nil, nil)
	m.act = f
	if !m.cloudLoading {
		return m.fetchCloud()
	}
	return nil
}

// userRole reports that the daemon said the caller is a plain user.
func (m *Model) userRole() bool { return m.role == api.RoleUser }

// readOnly reports that actions that change something are hidden: the TUI
// runs read-only (keyward tui --read-only), or the caller has the user
// role.
func (m *Model) readOnly() bool { return m.ctx.ReadOnly || m.userRole() }

// readOnlyNote says why the actions that change something are not there.
func (m *Model) readOnlyNote(what string) string {
	if m.userRole() {
		return "Read-only (you have the user role): " + what + " are hidden."
	}
	return "Read-only (keyward tui --read-only): " + what + " are hidden."
}

// actionMenu lists what the vault supports for a key in k's state; admin
// actions are marked (and refused before anything is sent) for a user.
func (m *Model) actionMenu(k engine.Key, src api.CloudSourceInfo) *dialog.Menu {
	km := m.ctx.Keys
	gone := k.State == engine.StateDeleted || k.State == engine.StatePurged
	var items []dialog.Item
	var cannot, cannotLines []string
	// The source's capabilities, as the daemon announces them, decide,
	// less what this key says it cannot do (an AWS-generated key has no
	// backup), which the menu says instead.
	add := func(cp, id string, b key.Binding, label string, danger, admin bool) {
		if !slices.Contains(src.Capabilities, cp) {
			return
		}
		if why := k.Unsupported(cp); why != "" {
			if !slices.Contains(cannot, cp) {
				cannot = append(cannot, cp)
				intro := why
				if !strings.HasPrefix(why, "not supported") {
					intro = "not supported: " + why
				}
				cannotLines = append(cannotLines, cp+": "+table.Clean(intro))
			}
			return
		}
		if admin && m.readOnly() {
			return // read-only: what changes the vault is not offered
		}
		items = append(items, dialog.Item{ID: id, Key: b, Label: label, Danger: danger})
	}
	if !gone {
		add(engine.CapRotate, actRotate, km.ActRotate, "", false, true)
		if k.State == engine.StateDisabled {
			add(engine.CapUpdate, actEnable, km.ActToggle, "enable", false, true)
		} else {
			add(engine.CapUpdate, actDisable, km.ActToggle, "disable", false, true)
		}
		// The edit form of a source whose keys have no dates (AWS,
		// Google) holds the tags alone: the line says only that.
		edit := ""
		if !slices.Contains(src.Capabilities, engine.CapDates) {
			edit = "tags"
		}
		add(engine.CapUpdate, actEdit, km.ActEdit, edit, false, true)
		add(engine.CapRotationPolicy, actPolicy, km.ActPolicy, "", false, false)
		add(engine.CapBackup, actBackup, km.ActBackup, "", false, true)
	}
	// A key that cannot be backed up (AWS and Google keys they generated)
	// has no backup of its own to restore: the backup line says why.
	if k.Unsupported(engine.CapBackup) == "" {
		add(engine.CapRestore, actRestore, km.ActRestore, "", false, true)
	}
	add(engine.CapRestore, actBackups, km.Backups, "every stored backup (of any key, purged ones too)", false, false)
	if gone {
		if k.State == engine.StateDeleted {
			add(engine.CapRecover, actRecover, km.ActRecover, "", false, true)
			add(engine.CapPurge, actPurge, km.ActPurge, "", true, true)
		}
	} else {
		add(engine.CapDeleteMaterial, actDeleteMaterial, km.ActDeleteMaterial, "", true, true)
		add(engine.CapDelete, actDelete, km.ActDelete, "", true, true)
	}
	add(engine.CapCreate, actCreate, km.ActCreate, "new key in "+table.Clean(src.Name), false, true)
	add(engine.CapUpload, actUpload, km.ActUpload, "upload a key into "+table.Clean(src.Name)+" (bring your own key)", false, true)
	intro := []string{fmt.Sprintf("version %s · %s · %s %s", shortVersion(render.OrDash(k.Version)), k.State, src.Kind, src.Address)}
	intro = append(intro, cannotLines...)
	if h, ok := m.health[src.Name]; ok && h.Health == engine.HealthDegraded {
		why := "⚠ " + src.Name + " is degraded"
		if h.Reason != "" {
			why += ": " + h.Reason
		}
		intro = append(intro, why+" — actions may be refused")
	}
	if m.readOnly() {
		intro = append(intro, m.readOnlyNote("actions that change the vault"))
	}
	return &dialog.Menu{
		Title: "Actions — " + shownName(k) + " in " + table.Clean(src.Name),
		Intro: intro, Items: items,
		Empty: "vault " + src.Name + " offers no life-cycle action for a key in this state",
	}
}

// updateAction handles a key press while a dialog is open.
func (m *Model) updateAction(msg tea.Msg) tea.Cmd {
	f := m.act
	step, run, cmd := f.Next(msg, m.ctx.Keys)
	switch step {
	case dialog.Close:
		m.act = nil
	case dialog.Send:
		return tea.Batch(cmd, m.send(f, run))
	case dialog.Choose:
		return m.choose(f, f.Menu.Chosen())
	}
	return cmd
}

// send runs one request of the flow without blocking the event loop.
func (m *Model) send(f *flow, run func(ctx context.Context) (string, func(*Model) tea.Cmd, error)) tea.Cmd {
	st := f.Status()
	st.Err = ""
	st.Busy = "asking " + f.src.Name + " through the daemon…"
	if f.src.Name == "" {
		st.Busy = "asking the daemon…"
	}
	c, id, what := m.ctx, f.id, f.what
	return func() tea.Msg {
		var text string
		var then func(*Model) tea.Cmd
		err := c.Call(func(ctx context.Context) (err error) {
			text, then, err = run(ctx)
			return err
		})
		return common.Reply(common.PaneKeys, actionDoneMsg{flow: id, what: what, text: text, err: err, then: then})
	}
}

func (m *Model) onActionDone(msg actionDoneMsg) tea.Cmd {
	f := m.act
	current := f != nil && f.id == msg.flow
	if msg.err != nil {
		why := common.Explain(msg.err)
		if common.Unsure(msg.err) {
			// Sent, and no answer: it may have been done. The dialog
			// closes so that enter cannot send it a second time; the
			// list is fetched again once the daemon is back.
			if current {
				m.act = nil
			}
			return common.FlashErr(msg.what + ": " + why)
		}
		if current {
			st := f.Status()
			st.Busy = ""
			st.Err = why
			if f.Form != nil {
				f.Form.Clear()
			}
		}
		return common.FlashErr(msg.what + " refused: " + why)
	}
	if msg.then != nil {
		// A result that goes on (a list shown again after a delete) may
		// also have words for the status line, shown even if the dialog
		// was closed meanwhile.
		var cmd tea.Cmd
		if msg.text != "" {
			cmd = common.Flash(msg.text)
		}
		if !current {
			return cmd
		}
		*f.Status() = dialog.Status{}
		return tea.Batch(cmd, msg.then(m))
	}
	if current {
		if f.Form != nil {
			f.Form.Clear()
		}
		m.act = nil
	}
	// The daemon also sends a "keys" notification; the pane refetches then.
	return common.Flash(msg.text)
}

// shownName is how a dialog names k: as the Keys pane shows it (an AWS
// key by its alias) and, when that is not its name, with the name the
// vault knows it by, which a confirmation asks to type (crm-byok
// (39b16399-aeae-…)).
func shownName(k engine.Key) string {
	if d := k.DisplayName(); d != k.Name {
		return table.Clean(d) + " (" + table.Clean(k.Name) + ")"
	}
	return table.Clean(k.Name)
}

// choose starts the action picked in the menu.
func (m *Model) choose(f *flow, it dialog.Item) tea.Cmd {
	k, src := f.key, f.src
	name, vault := shownName(k), table.Clean(src.Name)
	where := fmt.Sprintf("vault %s (%s)", src.Name, src.Address)
	if it.Disabled {
		what := it.ID
		if w, ok := adminWhat[it.ID]; ok {
			what = w
		}
		return common.FlashErr(fmt.Sprintf("%s needs the admin role; the daemon says you are %s: nothing was sent", what, m.role))
	}
	switch it.ID {
	case actRestoreFrom:
		return m.chooseRestore(f, it)
	case actBackups:
		return m.listBackups(f)
	case actPickBackup:
		return m.backupMenu(f, it.Value.(api.BackupInfo))
	case actDeleteBackup:
		return m.chooseDeleteBackup(f, it.Value.(api.BackupInfo))
	case actVersionEnable, actVersionDisable, actVersionDelete, actVersionRecover, actVersionPrimary:
		m.chooseVersion(f, it)
		return nil
	}
	f.what = it.ID + " " + name
	b := m.ctx.Backend
	op := func(opName, confirm, done string) actionRun {
		return cloudKeyRun(done+" "+name+" in "+vault, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.CloudKeyOp(ctx, src.Name, k.Name, opName, confirm)
		})
	}
	confirm := func(title string, require string, danger bool, lines ...string) {
		f.Show(nil, dialog.NewConfirm(title, lines, require, danger), nil, nil)
	}
	switch it.ID {
	case actRotate:
		f.Run = op("rotate", "", "rotated")
		confirm("Rotate "+name+" in "+vault+"?", "", false,
			"A new version of "+k.Name+" is created in "+where+" and becomes the one that encrypts; older versions still decrypt.")
	case actEnable, actDisable:
		// The row is one version, whose state offered enable or
		// disable: that version changes (the menu names it). Sent
		// without one, the vault chose — Azure its newest version,
		// Google its primary — so the version on screen stayed as it was.
		enabled := it.ID == actEnable
		which := name
		if k.Version != "" {
			which = "version " + shortVersion(table.Clean(k.Version)) + " of " + name
		}
		f.Run = cloudKeyRun(fmt.Sprintf("%sd %s in %s", it.ID, which, vault), func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.UpdateCloudKey(ctx, src.Name, k.Name, api.UpdateKeyRequest{Version: k.Version, Enabled: &enabled})
		})
		line := "Applications can use " + which + " again."
		if !enabled {
			line = "Applications can no longer encrypt or decrypt with " + which + " until it is enabled again."
		}
		if k.Version != "" {
			line += " The key's other versions do not change."
		}
		confirm(strings.ToUpper(it.ID[:1])+it.ID[1:]+" "+which+" in "+vault+"?", "", !enabled, line, "In "+where+".")
	case actBackup:
		f.Run = func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
			bi, err := b.BackupCloudKey(ctx, src.Name, k.Name)
			if err != nil {
				return "", nil, err
			}
			return fmt.Sprintf("backed up %s from %s: backup %s, %s", name, vault, table.Clean(bi.ID), common.Plural(bi.Versions, "version")), nil, nil
		}
		confirm("Back up "+name+" from "+vault+"?", "", false,
			"The "+where+" backup of "+k.Name+" (every version) is stored in keyward's database, wrapped under the key-encryption key.")
	case actDelete:
		f.Run = op("delete", k.Name, "deleted")
		confirm("Delete "+name+" in "+vault+"?", k.Name, true,
			"The "+where+" soft-deletes "+k.Name+" with all its versions: applications lose it now; it can be recovered until it is purged.")
	case actDeleteMaterial:
		f.Run = op("delete-material", k.Name, "deleted the imported material of")
		confirm("Delete the imported material of "+name+" in "+vault+"?", k.Name, true,
			"The "+where+" deletes the key material keyward imported into "+k.Name+": the key stays, unusable, until the same material is imported again (restore the backup keyward kept at upload).")
	case actRecover:
		f.Run = op("recover", "", "recovered")
		confirm("Recover "+name+" in "+vault+"?", "", false, "The soft-deleted key "+k.Name+" comes back in "+where+" with its versions.")
	case actPurge:
		f.Run = op("purge", k.Name, "purged")
		confirm("Purge "+name+" from "+vault+" for good?", k.Name, true,
			"The "+where+" destroys "+k.Name+" and every version: only a keyward backup can bring it back.")
	case actEdit:
		m.editForm(f)
	case actCreate:
		m.createForm(f)
	case actUpload:
		m.uploadForm(f)
	case actPolicy:
		f.Menu.Status.Busy = "reading the rotation policy…"
		return m.send(f, func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
			p, err := b.CloudRotationPolicy(ctx, src.Name, k.Name)
			if err != nil {
				return "", nil, err
			}
			pol := *p
			return "", func(m *Model) tea.Cmd { return m.policyForm(f, pol) }, nil
		})
	case actRestore:
		return m.send(f, func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
			list, err := b.CloudBackups(ctx)
			if err != nil {
				return "", nil, err
			}
			return "", func(m *Model) tea.Cmd { return m.restoreMenu(f, list) }, nil
		})
	}
	return nil
}

// describeResult says what the key looks like after an operation.
// cloudKeyRun is the run of a life-cycle request the daemon answers with
// the key's rows: done, then what they say (describeResult).
func cloudKeyRun(done string, do func(ctx context.Context) (*api.CloudKeyResult, error)) actionRun {
	return func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
		res, err := do(ctx)
		if err != nil {
			return "", nil, err
		}
		return done + describeResult(res), nil, nil
	}
}

func describeResult(res *api.CloudKeyResult) string {
	if res == nil {
		return ""
	}
	if res.Recovered != "" {
		// The vault's answer was lost and the daemon found the work
		// done: said after what the key looks like, whole, so the
		// administrator reads that it was done, and once.
		recovered := *res
		recovered.Recovered = ""
		return describeResult(&recovered) + " (" + table.Clean(res.Recovered) + ")"
	}
	if len(res.Keys) == 0 {
		return ""
	}
	latest := res.Keys[0]
	for _, k := range res.Keys[1:] {
		if k.Created != nil && (latest.Created == nil || k.Created.After(*latest.Created)) {
			latest = k
		}
	}
	s := ": " + common.Plural(len(res.Keys), "version")
	if latest.Version != "" {
		s += ", latest " + table.Clean(shortVersion(latest.Version))
	}
	return s + ", " + string(latest.State)
}

func shortVersion(v string) string {
	if len(v) > 12 {
		return v[:12] + "…"
	}
	return v
}

const dateHint = "YYYY-MM-DD, empty: none"

// editDateHint is an edit's: a date set stays set (a later or earlier one
// replaces it).
const editDateHint = "YYYY-MM-DD"

func fmtDate(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

// parseDate reads YYYY-MM-DD (midnight UTC) or RFC 3339.
func parseDate(label, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return &t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	return nil, fmt.Errorf("%s %q is not a date (use YYYY-MM-DD or 2006-01-02T15:04:05Z)", label, s)
}

func fmtTags(tags map[string]string) string {
	names := make([]string, 0, len(tags))
	for n := range tags {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + tags[n]
	}
	return strings.Join(parts, ", ")
}

// parseTags reads "k=v, k2=v2". had are the key's tags as the form showed
// them: a part without "=" continues the value before it when that value,
// so continued, is still the beginning of the key's own (a source's value
// may hold a comma: gcp:rotation=every 90d, next 2026-12-14), so what the
// form showed always reads back as it was.
func parseTags(s string, had map[string]string) (map[string]string, error) {
	out := map[string]string{}
	last, raw := "", ""
	for _, p := range strings.Split(s, ",") {
		if last != "" && !strings.Contains(p, "=") && strings.HasPrefix(had[last], strings.TrimSpace(raw+","+p)) && strings.TrimSpace(p) != "" {
			raw += "," + p
			out[last] = strings.TrimSpace(raw)
			continue
		}
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("tag %q: write name=value, separated by commas", p)
		}
		last, raw = k, v
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// editableTags are the tags the edit form shows: not the per-key limits
// (engine.TagUnsupported), which connectors derive and no vault stores
// (the menu says them).
func editableTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		if !strings.HasPrefix(k, engine.TagUnsupported) {
			out[k] = v
		}
	}
	return out
}

func sameDay(a, b *time.Time) bool {
	return fmtDate(a) == fmtDate(b)
}

func (m *Model) editForm(f *flow) {
	k, src := f.key, f.src
	had := editableTags(k.Tags)
	b := m.ctx.Backend
	intro := []string{"Version " + render.OrDash(k.Version) + " of " + k.Name + " in vault " + src.Name + ". Only what you change is sent."}
	var fields []dialog.Field
	// Dates only where the source's keys have them (engine.CapDates):
	// AWS and Google would refuse them.
	dated := slices.Contains(src.Capabilities, engine.CapDates)
	if dated {
		fields = append(fields, dialog.NewField("Expires", editDateHint, fmtDate(k.Expires)), dialog.NewField("Not before", editDateHint, fmtDate(k.Activated)))
	} else {
		intro = append(intro, "No dates: "+engine.NoDates(src.Name)+".")
	}
	fields = append(fields, dialog.NewField("Tags", "name=value, comma separated; replaces all", fmtTags(had)))
	form := dialog.NewForm("Edit "+table.Clean(k.Name)+" in "+table.Clean(src.Name), intro, fields...)
	f.Show(nil, nil, form, nil)
	f.Submit = func(fm *dialog.Form) (actionRun, error) {
		req := api.UpdateKeyRequest{Version: k.Version}
		var changed []string
		tagField := 0
		if dated {
			tagField = 2
			exp, err := parseDate("expires", fm.Value(0))
			if err != nil {
				return nil, err
			}
			nbf, err := parseDate("not before", fm.Value(1))
			if err != nil {
				return nil, err
			}
			if !sameDay(exp, k.Expires) {
				if exp == nil {
					return nil, fmt.Errorf("an expiry cannot be removed from here; set a later date instead")
				}
				req.Expires, changed = exp, append(changed, "expiry "+fmtDate(exp))
			}
			if !sameDay(nbf, k.Activated) {
				if nbf == nil {
					return nil, fmt.Errorf("a not-before date cannot be removed from here; set an earlier date instead")
				}
				req.NotBefore, changed = nbf, append(changed, "not-before "+fmtDate(nbf))
			}
		}
		tags, err := parseTags(fm.Value(tagField), had)
		if err != nil {
			return nil, err
		}
		if fmtTags(tags) != fmtTags(had) {
			if len(tags) == 0 {
				return nil, fmt.Errorf("removing every tag is not possible from here; keep at least one")
			}
			req.Tags, changed = tags, append(changed, "tags")
		}
		if len(changed) == 0 {
			return nil, fmt.Errorf("nothing changed")
		}
		f.what = "edit " + table.Clean(k.Name)
		done := fmt.Sprintf("updated %s in %s (%s)", table.Clean(k.Name), table.Clean(src.Name), strings.Join(changed, ", "))
		return cloudKeyRun(done, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.UpdateCloudKey(ctx, src.Name, k.Name, req)
		}), nil
	}
}

func (m *Model) policyForm(f *flow, p api.RotationPolicy) tea.Cmd {
	k, src := f.key, f.src
	b := m.ctx.Backend
	d := func(v engine.Duration) string {
		if v == 0 {
			return ""
		}
		return v.String()
	}
	intro := []string{"Rotation policy of " + k.Name + " in vault " + src.Name + ". Durations like 90d, 2w, 1y; empty: unset."}
	if m.readOnly() {
		intro = append(intro, "Read-only: you can read the policy; changes are not sent.")
	}
	form := dialog.NewForm("Rotation policy — "+table.Clean(k.Name)+" in "+table.Clean(src.Name), intro,
		dialog.NewField("Rotate after", "since the version was created", d(p.RotateAfter)),
		dialog.NewField("Rotate before expiry", "", d(p.RotateBeforeExpiry)),
		dialog.NewField("New versions expire after", "", d(p.ExpireAfter)),
		dialog.NewField("Notify before expiry", "", d(p.NotifyBefore)),
	)
	f.Show(nil, nil, form, nil)
	f.Submit = func(fm *dialog.Form) (actionRun, error) {
		if m.readOnly() {
			return nil, fmt.Errorf("read-only: the rotation policy is not changed; nothing was sent")
		}
		var np api.RotationPolicy
		for i, dst := range []*engine.Duration{&np.RotateAfter, &np.RotateBeforeExpiry, &np.ExpireAfter, &np.NotifyBefore} {
			v, err := engine.ParseDuration(fm.Value(i))
			if err != nil {
				fm.Focus(i)
				return nil, fmt.Errorf("%s: %w", strings.ToLower(fm.Fields[i].Label), err)
			}
			*dst = v
		}
		if np == p {
			return nil, fmt.Errorf("nothing changed")
		}
		f.what = "set the rotation policy of " + table.Clean(k.Name)
		return func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
			got, err := b.SetCloudRotationPolicy(ctx, src.Name, k.Name, np)
			if err != nil {
				return "", nil, err
			}
			return fmt.Sprintf("rotation policy of %s in %s: rotate after %s, expire after %s", table.Clean(k.Name), table.Clean(src.Name),
				render.OrDash(d(got.RotateAfter)), render.OrDash(d(got.ExpireAfter))), nil, nil
		}, nil
	}
	return form.Focus(0)
}

// restoreMenu lists the stored backups of the key and where each can go:
// the vault it came from or another one of the same geography.
func (m *Model) restoreMenu(f *flow, list []api.BackupInfo) tea.Cmd {
	k := f.key
	var items []dialog.Item
	for _, bi := range list {
		if bi.Key != k.Name {
			continue
		}
		for _, n := range m.restoreTargets(bi) {
			label := fmt.Sprintf("%s · %s · from %s → into %s", bi.Created.UTC().Format("2006-01-02 15:04"), common.Plural(bi.Versions, "version"), bi.Source, n)
			items = append(items, dialog.Item{ID: actRestoreFrom, Label: label, Value: restoreChoice{bi, n}})
		}
	}
	f.Show(&dialog.Menu{
		Title: "Restore " + table.Clean(k.Name) + " from a backup",
		Intro: []string{"Backups of " + k.Name + " stored by keyward, newest first. A backup goes back into its vault or one of the same geography."},
		Items: items,
		Empty: "keyward holds no backup of " + k.Name + " (back it up first with b; B lists every stored backup)",
	}, nil, nil, nil)
	f.Run = nil
	return nil
}

// restoreChoice is one backup and the vault to restore it into.
type restoreChoice struct {
	backup api.BackupInfo
	into   string
}

// restoreTargets are the vaults a backup can go back into: the one it was
// taken from first, then the others of the same kind and geography.
func (m *Model) restoreTargets(bi api.BackupInfo) []string {
	var out []string
	if t, ok := m.cloud[bi.Source]; ok && slices.Contains(t.Capabilities, engine.CapRestore) {
		out = append(out, bi.Source)
	}
	names := make([]string, 0, len(m.cloud))
	for n := range m.cloud {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := m.cloud[n]
		if n == bi.Source || !slices.Contains(t.Capabilities, engine.CapRestore) || t.Geography != bi.Geography ||
			(t.Kind != "" && bi.Kind != "" && t.Kind != bi.Kind) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// chooseRestore confirms restoring one backup; into a vault whose
// imported material expires (engine.CapMaterialExpiry: AWS) it asks, in a
// form, for the material's expiry instead.
func (m *Model) chooseRestore(f *flow, it dialog.Item) tea.Cmd {
	v, _ := it.Value.(restoreChoice)
	bi, into := v.backup, v.into
	b := m.ctx.Backend
	name := table.Clean(bi.Key)
	f.what = "restore " + name
	f.src = m.cloud[into]
	if slices.Contains(f.src.Capabilities, engine.CapMaterialExpiry) {
		return m.restoreExpiryForm(f, bi, into)
	}
	f.Run = cloudKeyRun(fmt.Sprintf("restored %s into %s from backup %s", name, table.Clean(into), table.Clean(bi.ID)), func(ctx context.Context) (*api.CloudKeyResult, error) {
		return b.RestoreCloudBackup(ctx, bi.ID, api.RestoreRequest{Source: into})
	})
	f.Show(nil, dialog.NewConfirm("Restore "+name+" into "+table.Clean(into)+"?",
		[]string{fmt.Sprintf("Backup %s of %s, taken from vault %s on %s (%s), is restored into vault %s with its versions.",
			bi.ID, bi.Key, bi.Source, backupTime(bi), common.Plural(bi.Versions, "version"), into)}, "", false), nil, nil)
	return nil
}

// restoreExpiryForm asks when the re-imported material of backup bi
// expires in vault into: as kept at upload (empty), a date, or never.
func (m *Model) restoreExpiryForm(f *flow, bi api.BackupInfo, into string) tea.Cmd {
	b := m.ctx.Backend
	name := table.Clean(bi.Key)
	form := dialog.NewForm("Restore "+name+" into "+table.Clean(into), []string{
		fmt.Sprintf("Backup %s of %s, taken from vault %s on %s, is imported into the key again.", bi.ID, bi.Key, bi.Source, backupTime(bi)),
		"Material expires: empty keeps the expiry kept at upload (refused once it has passed); a date (at most 365 days ahead) or never.",
	}, dialog.NewField("Material expires", "empty, YYYY-MM-DD or never", ""))
	f.Show(nil, nil, form, nil)
	f.Submit = func(fm *dialog.Form) (actionRun, error) {
		req := api.RestoreRequest{Source: into}
		how := ""
		switch v := strings.TrimSpace(fm.Value(0)); strings.ToLower(v) {
		case "":
		case "never", "none":
			req.NoExpiry, how = true, ", material without expiry"
		default:
			exp, err := parseDate("material expires", v)
			if err != nil {
				return nil, err
			}
			req.Expires, how = exp, ", material expiring "+fmtDate(exp)
		}
		done := fmt.Sprintf("restored %s into %s from backup %s%s", name, table.Clean(into), table.Clean(bi.ID), how)
		return cloudKeyRun(done, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.RestoreCloudBackup(ctx, bi.ID, req)
		}), nil
	}
	return form.Focus(0)
}

var vaultKeyName = regexp.MustCompile(`^[0-9A-Za-z-]{1,127}$`)

func (m *Model) createForm(f *flow) {
	src := f.src
	b := m.ctx.Backend
	intro := []string{"Generated inside vault " + src.Name + " (" + src.Address + ")."}
	fields := []dialog.Field{dialog.NewField("Name", "letters, digits and -", "")}
	// A source that declares what it creates (api.CloudSourceInfo.Creates)
	// gets one Key spec field offering exactly that; the others the RSA / EC
	// pair.
	// The options it declares (Google's purpose, algorithm, protection
	// level) follow, each a tag, empty for the source's default.
	if len(src.Creates) > 0 {
		intro = append(intro, "Key specs: "+strings.Join(src.Creates, " · "))
		fields = append(fields, dialog.NewField("Key spec", "one of the key specs above", src.Creates[0]))
		for _, o := range src.CreateOptions {
			fields = append(fields, dialog.NewField(o.Name, o.Hint, ""))
		}
	} else {
		fields = append(fields, dialog.NewField("Type", "RSA or EC", "EC"),
			dialog.NewField("Size or curve", "RSA: 2048, 3072, 4096 · EC: P-256, P-384, P-521", "P-256"))
	}
	form := dialog.NewForm("New key in "+table.Clean(src.Name), intro, fields...)
	expField := datedField(form, src.Capabilities)
	f.Show(nil, nil, form, nil)
	f.Submit = func(fm *dialog.Form) (actionRun, error) {
		req := api.CreateKeyRequest{Name: fm.Value(0)}
		if err := checkVaultName(fm, 0, req.Name); err != nil {
			return nil, err
		}
		if len(src.Creates) > 0 {
			if err := declaredSpec(fm, 1, src.Creates, &req); err != nil {
				return nil, err
			}
			if err := declaredOptions(fm, 2, src.CreateOptions, &req); err != nil {
				return nil, err
			}
		} else if err := keyShape(fm, 1, 2, &req); err != nil {
			return nil, err
		}
		exp, err := expiry(fm, expField)
		if err != nil {
			return nil, err
		}
		req.Expires = exp
		f.what = "create " + req.Name
		return cloudKeyRun("created "+table.Clean(req.Name)+" in "+table.Clean(src.Name), func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.CreateCloudKey(ctx, src.Name, req)
		}), nil
	}
}

// kmipSources lists the KMIP sources a key can be uploaded from.
func (m *Model) kmipSources() []string {
	var out []string
	for _, n := range m.sources.Names() {
		if m.health[n].Kind == "kmip" {
			out = append(out, n)
		}
	}
	return out
}

func (m *Model) uploadForm(f *flow) {
	src := f.src
	b := m.ctx.Backend
	from := "local"
	hint := "local: generated here"
	if ks := m.kmipSources(); len(ks) > 0 {
		hint += ", or source/application, e.g. " + ks[0] + "/crm"
	}
	form := dialog.NewForm("Upload a key into "+table.Clean(src.Name),
		[]string{"Bring your own key: the material is made outside vault " + src.Name + " and imported into it; keyward records where it came from."},
		dialog.NewField("Name in the vault", "letters, digits and -", ""),
		dialog.NewField("Key from", hint, from),
		dialog.NewField("Type", "local keys: RSA or EC", "EC"),
		dialog.NewField("Size or curve", "RSA: 2048, 3072, 4096 · EC: P-256, P-384, P-521", "P-256"),
	)
	expField := datedField(form, src.Capabilities)
	if expField < 0 && slices.Contains(src.Capabilities, engine.CapMaterialExpiry) {
		// The key has no dates, its imported material does (AWS).
		form.Fields = append(form.Fields, dialog.NewField("Material expires", "YYYY-MM-DD, at most 365 days ahead; empty: never", ""))
		expField = len(form.Fields) - 1
	}
	f.Show(nil, nil, form, nil)
	f.Submit = func(fm *dialog.Form) (actionRun, error) {
		var req api.UploadKeyRequest
		req.Name = fm.Value(0)
		if err := checkVaultName(fm, 0, req.Name); err != nil {
			return nil, err
		}
		origin := "generated locally"
		switch v := fm.Value(1); {
		case v == "" || strings.EqualFold(v, "local"):
			if err := keyShape(fm, 2, 3, &req.CreateKeyRequest); err != nil {
				return nil, err
			}
		default:
			s, app, ok := strings.Cut(v, "/")
			if !ok || s == "" || app == "" {
				fm.Focus(1)
				return nil, fmt.Errorf("key from %q: write local, or source/application", v)
			}
			if m.health[s].Kind != "kmip" {
				fm.Focus(1)
				return nil, fmt.Errorf("%q is not a KMIP source (have: %s)", s, render.OrDash(strings.Join(m.kmipSources(), ", ")))
			}
			req.FromSource, req.FromApplication = s, app
			origin = "newest generation of " + app + " from " + s
		}
		exp, err := expiry(fm, expField)
		if err != nil {
			return nil, err
		}
		req.Expires = exp
		f.what = "upload " + table.Clean(req.Name)
		done := fmt.Sprintf("uploaded %s into %s (%s)", table.Clean(req.Name), table.Clean(src.Name), table.Clean(origin))
		return cloudKeyRun(done, func(ctx context.Context) (*api.CloudKeyResult, error) {
			return b.UploadCloudKey(ctx, src.Name, req)
		}), nil
	}
}

// datedField adds an Expires field to form when the source's keys have
// dates (engine.CapDates) and returns its index (-1: none offered).
func datedField(form *dialog.Form, caps []string) int {
	if !slices.Contains(caps, engine.CapDates) {
		return -1
	}
	form.Fields = append(form.Fields, dialog.NewField("Expires", dateHint, ""))
	return len(form.Fields) - 1
}

// expiry reads the Expires field i (nil when the form has none).
func expiry(fm *dialog.Form, i int) (*time.Time, error) {
	if i < 0 {
		return nil, nil
	}
	exp, err := parseDate("expires", fm.Value(i))
	if err != nil {
		fm.Focus(i)
	}
	return exp, err
}

// checkVaultName refuses a missing or invalid vault key name in field i.
func checkVaultName(fm *dialog.Form, i int, name string) error {
	if name == "" {
		fm.Focus(i)
		return fmt.Errorf("a name is required")
	}
	if !vaultKeyName.MatchString(name) {
		fm.Focus(i)
		return fmt.Errorf("name %q: a vault key name is 1 to 127 letters, digits and dashes", name)
	}
	return nil
}

// keyShape reads the type field ti and the size-or-curve field si.
func keyShape(fm *dialog.Form, ti, si int, req *api.CreateKeyRequest) error {
	req.Type = strings.ToUpper(fm.Value(ti))
	sz := strings.ToUpper(fm.Value(si))
	switch req.Type {
	case "RSA":
		n, err := strconv.Atoi(sz)
		if err != nil || (n != 2048 && n != 3072 && n != 4096) {
			fm.Focus(si)
			return fmt.Errorf("RSA size %q: use 2048, 3072 or 4096", fm.Value(si))
		}
		req.Size = n
	case "EC":
		if sz != "P-256" && sz != "P-384" && sz != "P-521" {
			fm.Focus(si)
			return fmt.Errorf("EC curve %q: use P-256, P-384 or P-521", fm.Value(si))
		}
		req.Curve = sz
	default:
		fm.Focus(ti)
		return fmt.Errorf("type %q: use RSA or EC", fm.Value(ti))
	}
	return nil
}

// declaredSpec reads field i, one of the specs the source declares
// ("oct", "RSA 3072", "EC P-384", "HMAC 256"), into req.
func declaredSpec(fm *dialog.Form, i int, specs []string, req *api.CreateKeyRequest) error {
	v := strings.Join(strings.Fields(fm.Value(i)), " ")
	j := slices.IndexFunc(specs, func(s string) bool { return strings.EqualFold(s, v) })
	if j < 0 {
		fm.Focus(i)
		return fmt.Errorf("key spec %q: use one of %s", fm.Value(i), strings.Join(specs, ", "))
	}
	typ, arg, _ := strings.Cut(specs[j], " ")
	req.Type = typ
	if n, err := strconv.Atoi(arg); err == nil {
		req.Size = n
	} else {
		req.Curve = arg
	}
	return nil
}

// declaredOptions reads the fields from i on, one per declared option, into
// req's tags: an empty field sends no tag; a value must be one of the
// option's (any when it declares none).
func declaredOptions(fm *dialog.Form, i int, opts []api.CreateOption, req *api.CreateKeyRequest) error {
	for n, o := range opts {
		v := strings.TrimSpace(fm.Value(i + n))
		if v == "" {
			continue
		}
		if len(o.Values) > 0 {
			j := slices.IndexFunc(o.Values, func(s string) bool { return strings.EqualFold(s, v) })
			if j < 0 {
				fm.Focus(i + n)
				return fmt.Errorf("%s %q: use one of %s, or leave it empty", strings.ToLower(o.Name), v, strings.Join(o.Values, ", "))
			}
			v = o.Values[j]
		}
		if req.Tags == nil {
			req.Tags = map[string]string{}
		}
		req.Tags[o.Tag] = v
	}
	return nil
}

// sync asks the daemon to sync one source ("" = all) now.
func (m *Model) sync(source string) tea.Cmd {
	s := m.ctx.Backend
	what := "every source"
	if source != "" {
		what = source
	}
	if m.readOnly() {
		return common.FlashErr("read-only: syncing is hidden; nothing was sent")
	}
	c := m.ctx
	// In order: the spinner starts before the request, and the outcome
	// replaces it.
	busy, id := common.Busy("syncing " + table.Clean(what))
	return tea.Sequence(busy, func() tea.Msg {
		var res *api.SyncResult
		err := c.CallFor(SyncTimeout, func(ctx context.Context) (err error) {
			res, err = s.Sync(ctx, source)
			return err
		})
		return common.Reply(common.PaneKeys, syncDoneMsg{busy: id, source: what, res: res, err: err})
	})
}

// onSyncDone ends the spinner with the outcome, in words.
func onSyncDone(msg syncDoneMsg) tea.Cmd {
	return tea.Sequence(common.Idle(msg.busy), syncOutcome(msg))
}

func syncOutcome(msg syncDoneMsg) tea.Cmd {
	var ae *api.Error
	switch {
	case errors.As(msg.err, &ae):
		return common.FlashErr("sync of " + table.Clean(msg.source) + " refused: " + common.Explain(msg.err))
	case errors.Is(msg.err, context.DeadlineExceeded):
		return common.FlashErr(fmt.Sprintf("sync of %s failed: no answer from the daemon in %s; it may still be syncing (watch the Activity and Sources panes)",
			table.Clean(msg.source), SyncTimeout))
	case msg.err != nil:
		return common.FlashErr("sync of " + table.Clean(msg.source) + " failed: " + common.Explain(msg.err))
	case msg.res == nil || len(msg.res.Synced) == 0:
		return common.Flash("sync of " + table.Clean(msg.source) + ": nothing to sync")
	}
	return common.Flash("synced " + table.Clean(strings.Join(msg.res.Synced, ", ")))
}

// actionView draws the open dialog over the pane.
func (m *Model) actionView() string {
	return m.act.View(m.ctx.Styles, m.ctx.Keys, m.width, m.height)
}

// The stored backups list: every key backup the daemon keeps, whatever key
// it holds and whether that key is still in the inventory (purged, or in a
// vault keyward no longer lists). It is where a key that is gone is
// restored from, and where stored backups are deleted. B opens it from the
// table or a key's detail, and the key-actions menu lists it too.

// openBackups opens the stored backups list.
func (m *Model) openBackups() tea.Cmd {
	if m.cloud == nil {
		// Where each backup can go back depends on the vaults.
		return m.awaitCloud("Stored backups", m.openBackups)
	}
	if m.noCloud {
		return common.FlashErr("this daemon offers no stored key backups")
	}
	return m.listBackups(m.newFlow(engine.Key{}))
}

// listBackups asks the daemon for the stored backups and shows them in f.
func (m *Model) listBackups(f *flow) tea.Cmd {
	b := m.ctx.Backend
	f.key, f.src = engine.Key{}, api.CloudSourceInfo{}
	f.what = "list the stored backups"
	f.Run = nil
	f.Show(&dialog.Menu{Title: "Stored backups"}, nil, nil, nil)
	m.act = f
	return m.send(f, func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
		list, err := b.CloudBackups(ctx)
		if err != nil {
			return "", nil, err
		}
		return "", func(m *Model) tea.Cmd { return m.backupsMenu(f, list) }, nil
	})
}

// backupsMenu lists the backups, newest first (as the daemon answers).
func (m *Model) backupsMenu(f *flow, list []api.BackupInfo) tea.Cmd {
	items := make([]dialog.Item, len(list))
	for i, bi := range list {
		label := fmt.Sprintf("%s · %s · from %s · %s", bi.Created.UTC().Format("2006-01-02 15:04"), table.Clean(bi.Key), table.Clean(bi.Source), common.Plural(bi.Versions, "version"))
		if bi.Actor != "" {
			label += " · by " + table.Clean(bi.Actor)
		}
		items[i] = dialog.Item{ID: actPickBackup, Label: label, Value: bi}
	}
	intro := []string{"Every key backup keyward stores, wrapped under its key-encryption key, newest first — " +
		"also of keys no longer in the inventory. enter on one: restore it or delete it."}
	if m.readOnly() {
		intro = append(intro, m.readOnlyNote("restoring and deleting"))
	}
	f.Show(&dialog.Menu{Title: fmt.Sprintf("Stored backups (%d)", len(list)), Intro: intro, Items: items,
		Empty: "keyward stores no key backup (back a cloud key up with x, then b)"}, nil, nil, nil)
	return nil
}

// backupMenu is what can be done with one backup: restore it into each
// vault that can take it, or delete it.
func (m *Model) backupMenu(f *flow, bi api.BackupInfo) tea.Cmd {
	km := m.ctx.Keys
	f.key = engine.Key{Source: bi.Source, Name: bi.Key}
	f.src = m.cloud[bi.Source]
	targets := m.restoreTargets(bi)
	var items []dialog.Item
	for i, into := range targets {
		it := dialog.Item{ID: actRestoreFrom, Label: "restore into " + into, Value: restoreChoice{bi, into}}
		if into == bi.Source {
			it.Label += " (where it was taken)"
		}
		if i == 0 {
			it.Key = km.ActRestore
		}
		if !m.readOnly() {
			items = append(items, it)
		}
	}
	if !m.readOnly() {
		items = append(items, dialog.Item{ID: actDeleteBackup, Key: km.ActDelete,
			Label: "delete this backup from keyward", Danger: true, Value: bi})
	}
	intro := []string{fmt.Sprintf("Key %s, taken from vault %s (%s) on %s by %s: %s, %s.",
		bi.Key, bi.Source, render.OrDash(bi.Kind), backupTime(bi), render.OrDash(bi.Actor), common.Plural(bi.Versions, "version"), common.Plural(int(bi.Size), "byte"))}
	if len(targets) == 0 {
		intro = append(intro, "No configured vault can take it back: it restores only into a "+render.OrDash(bi.Kind)+
			" vault of geography "+render.OrDash(bi.Geography)+".")
		if _, ok := m.cloud[bi.Source]; !ok {
			intro = append(intro, "Vault "+bi.Source+" is not configured: add its [["+render.OrDash(bi.Kind)+"]] section back to keyward.toml and restart the daemon to restore it there.")
		}
	}
	if m.readOnly() {
		intro = append(intro, m.readOnlyNote("restoring and deleting"))
	}
	f.Show(&dialog.Menu{Title: "Backup " + table.Clean(bi.ID) + " of " + table.Clean(bi.Key), Intro: intro, Items: items,
		Empty: "nothing can be done with this backup here"}, nil, nil, nil)
	return nil
}

// chooseDeleteBackup asks for the key's name before deleting a backup,
// naming the backup, the key and the vault; afterwards the list is shown
// again without it.
func (m *Model) chooseDeleteBackup(f *flow, bi api.BackupInfo) tea.Cmd {
	b := m.ctx.Backend
	id, name, vault := table.Clean(bi.ID), table.Clean(bi.Key), table.Clean(bi.Source)
	where := "vault " + bi.Source
	if src, ok := m.cloud[bi.Source]; ok && src.Address != "" {
		where += " (" + src.Address + ")"
	}
	f.what = "delete backup " + id
	f.src = api.CloudSourceInfo{} // the daemon answers alone: the vault is not asked
	f.Run = func(ctx context.Context) (string, func(*Model) tea.Cmd, error) {
		if err := b.DeleteCloudBackup(ctx, bi.ID); err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("deleted backup %s of %s (%s)", id, name, vault), func(m *Model) tea.Cmd { return m.listBackups(f) }, nil
	}
	f.Show(nil, dialog.NewConfirm("Delete backup "+id+" of "+name+" ("+vault+")?", []string{
		fmt.Sprintf("Backup %s of key %s, taken from %s on %s (%s), is removed from keyward's database for good: "+
			"it can no longer bring %s back. The key in the vault is not changed.",
			bi.ID, bi.Key, where, backupTime(bi), common.Plural(bi.Versions, "version"), bi.Key)}, bi.Key, true), nil, nil)
	return nil
}

func backupTime(bi api.BackupInfo) string { return bi.Created.UTC().Format("2006-01-02 15:04 UTC") }
