package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
)

// withBackups gives the fixture three stored backups, newest first as the
// daemon lists them: orders-kek (a key the inventory does not hold: purged
// and gone), payments-wrap and backup-kek.
func withBackups(f *fixture) *fixture {
	b := func(id, key string, versions, days int, actor string) api.BackupInfo {
		return api.BackupInfo{ID: id, Source: "vault-emu", Kind: "azure", Geography: "europe", Key: key,
			Versions: versions, Created: *at(days), Size: 2048 * versions, Actor: actor}
	}
	f.cloud.backups = []api.BackupInfo{
		b("bk-3", "orders-kek", 2, -2, "alice"),
		b("bk-2", "payments-wrap", 1, -9, "bob"),
		b("bk-1", "backup-kek", 3, -30, ""),
	}
	return f
}

// startBackups starts the TUI on f at w×h, opens the stored backups list
// with B and waits for it, with the strings of want.
func startBackups(t *testing.T, f *fixture, w, h int, want ...string) *teatest.TestModel {
	t.Helper()
	tm := start(t, f, w, h)
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "B")
	waitFor(t, tm, append([]string{"Stored backups (3)"}, want...)...)
	return tm
}

// TestBackupsListGolden: B lists every backup the daemon holds, with its
// date, key, vault, versions and who took it, whether or not the key is
// in the inventory.
func TestBackupsListGolden(t *testing.T) {
	f := withBackups(newFixture())
	tm := startBackups(t, f, 80, 24, "2026-11-21 12:00 · orders-kek · from vault-emu · 2 versions · by alice",
		"2026-11-14 12:00 · payments-wrap · from vault-emu · 1 version · by bob",
		"2026-10-24 12:00 · backup-kek · from vault-emu · 3 versions")
	golden(t, tm, 80, 24)
	f.wantCalls(t)
}

// TestDeleteBackupConfirmGolden: the confirmation names the backup, the
// key and the vault, and wants the key's name typed again.
func TestDeleteBackupConfirmGolden(t *testing.T) {
	f := withBackups(newFixture())
	tm := startBackups(t, f, 80, 24)
	press(tm, "down", "enter")
	waitFor(t, tm, "Backup bk-2", "[d] delete this backup from keyward")
	press(tm, "d", "payments")
	waitFor(t, tm, "Delete backup bk-2 of payments-wrap (vault-emu)?", "Type payments-wrap to confirm", "› payments")
	golden(t, tm, 80, 24)
}

// TestDeleteBackupFlow: deleting sends nothing until the key's name is
// typed exactly; then the backup is deleted, the status line says so and
// the list, asked for again, no longer holds it.
func TestDeleteBackupFlow(t *testing.T) {
	f := withBackups(newFixture())
	tm := startBackups(t, f, 100, 30)
	press(tm, "down", "enter")
	waitFor(t, tm, "Backup bk-2", "Key payments-wrap, taken from vault vault-emu (azure) on 2026-11-14", "12:00 UTC by bob: 1 version",
		"[s] restore into vault-emu (where it was taken)")
	press(tm, "d")
	waitFor(t, tm, "Delete backup bk-2 of payments-wrap (vault-emu)?",
		"taken from vault vault-emu", "(https://acme-vault.vault.azure.net) on 2026-11-14", "Type payments-wrap to confirm")
	press(tm, "payments-wrapp", "enter")
	waitFor(t, tm, "the name does not match: nothing was sent")
	time.Sleep(50 * time.Millisecond)
	f.wantCalls(t)
	backspaces(tm, 1)
	press(tm, "enter")
	waitFor(t, tm, "✔ deleted backup bk-2 of payments-wrap (vault-emu)", "Stored backups (2)")
	view := finalView(t, tm)
	f.wantCalls(t, "delete-backup bk-2")
	if strings.Contains(view, "payments-wrap · from") || !strings.Contains(view, "orders-kek · from") {
		t.Errorf("the list after the delete:\n%s", view)
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	for _, b := range f.cloud.backups {
		if b.ID == "bk-2" {
			t.Errorf("the daemon still holds bk-2")
		}
	}
}

// TestDeleteBackupRefused: the daemon's reason is in the dialog and the
// status line, and the backup stays listed.
func TestDeleteBackupRefused(t *testing.T) {
	f := withBackups(newFixture())
	f.cloud.refuse = &api.Error{Status: 403, Code: api.CodeForbidden,
		Message: `delete backup: forbidden: alice has role "user"; this needs the admin role`}
	tm := startBackups(t, f, 120, 30)
	press(tm, "enter", "d", "orders-kek", "enter")
	waitFor(t, tm, `✖ delete backup bk-3 refused: delete backup: forbidden: alice has role "user"`)
	_ = finalView(t, tm)
	if n := len(f.cloud.backups); n != 3 {
		t.Errorf("%d backups left", n)
	}
}

// TestRestoreAbsentKeyFlow: a key that is not in the inventory (searched
// for, nothing found) is restored from the stored backups list: the daemon
// is asked to restore that backup into the vault it came from, and the key
// is in the table afterwards.
func TestRestoreAbsentKeyFlow(t *testing.T) {
	f := withBackups(newFixture())
	tm := start(t, f, 120, 30)
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "/", "orders-kek", "enter")
	// Nothing found: the help line points at the backups.
	waitFor(t, tm, "no key matches these filters", "B stored backups")
	press(tm, "B")
	waitFor(t, tm, "Stored backups (3)", "› 2026-11-21 12:00 · orders-kek")
	press(tm, "enter")
	waitFor(t, tm, "Backup bk-3", "[s] restore into vault-emu (where it was taken)")
	press(tm, "s")
	waitFor(t, tm, "Restore orders-kek into vault-emu?",
		"Backup bk-3 of orders-kek, taken from vault vault-emu on 2026-11-21", "(2 versions), is restored into vault vault-emu")
	f.wantCalls(t)
	press(tm, "enter")
	waitFor(t, tm, "✔ restored orders-kek into vault-emu from backup bk-3: 2 versions", "1–2 of 2 keys")
	view := finalView(t, tm)
	f.wantCalls(t, "restore bk-3 into vault-emu")
	rows := 0
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "orders-kek ") && strings.Contains(l, " active ") && strings.Contains(l, "RSA-3072") {
			rows++
		}
	}
	if rows != 2 {
		t.Errorf("the restored key's 2 versions are not in the table:\n%s", view)
	}
}

// TestBackupsFromActionMenu: the key-actions menu lists the stored backups
// too (the way in when a key row is selected).
func TestBackupsFromActionMenu(t *testing.T) {
	f := withBackups(newFixture())
	tm := startOnKey(t, f, 100, 30, "payments-wrap")
	press(tm, "x")
	waitFor(t, tm, "[B] every stored backup")
	press(tm, "B")
	waitFor(t, tm, "Stored backups (3)", "orders-kek · from vault-emu")
	_ = finalView(t, tm)
}

// TestBackupsUserRole: a user may list the backups; the TUI is read-only
// for them: restoring and deleting are not offered, and their keys send
// nothing.
func TestBackupsUserRole(t *testing.T) {
	f := withBackups(newFixture())
	f.status.Caller.Role = api.RoleUser
	tm := startBackups(t, f, 120, 30, "Read-only (you have the user role): restoring and deleting are hidden.")
	press(tm, "enter")
	waitFor(t, tm, "nothing can be done with this backup here")
	press(tm, "d", "s")
	view := finalView(t, tm)
	if strings.Contains(view, "restore into") || strings.Contains(view, "delete this backup") {
		t.Errorf("a read-only TUI offers a change:\n%s", view)
	}
	f.wantCalls(t)
}

// TestDeleteBackupInFlight: while the daemon has not answered, the dialog
// says it is waiting and enter does not send again; esc closes it and the
// TUI goes on (another pane opens); the answer, when it comes, is in the
// status line.
func TestDeleteBackupInFlight(t *testing.T) {
	f := withBackups(newFixture())
	f.cloud.hold = make(chan struct{})
	tm := startBackups(t, f, 120, 30)
	press(tm, "down", "enter", "d", "payments-wrap", "enter")
	waitFor(t, tm, "⋯ asking the daemon…")
	press(tm, "enter")
	press(tm, "esc", "5")
	waitFor(t, tm, "keys/list permission") // the Sources pane
	if c := f.Calls(); len(c) != 1 {
		t.Fatalf("requests while in flight: %q", c)
	}
	close(f.cloud.hold)
	waitFor(t, tm, "✔ deleted backup bk-2 of payments-wrap (vault-emu)")
	_ = finalView(t, tm)
}

// TestBackupMenuGolden: one backup, what it holds and what can be done
// with it.
func TestBackupMenuGolden(t *testing.T) {
	f := withBackups(newFixture())
	tm := startBackups(t, f, 80, 24)
	press(tm, "enter")
	waitFor(t, tm, "Backup bk-3", "[s] restore into vault-emu (where it was taken)", "[d] delete this backup from keyward")
	golden(t, tm, 80, 24)
}
