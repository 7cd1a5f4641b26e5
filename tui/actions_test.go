package tui_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui"
	"github.com/keyward/keyward/tui/common"
	"github.com/keyward/keyward/tui/tuitest"
)

// The fixture is a whole backend, as the daemon's client is (tui/common
// asserts that).
var _ common.Backend = (*fixture)(nil)

// startOnKey starts the TUI on f (newFixture's 15 keys) at w×h with the
// key called name selected in the Keys pane.
func startOnKey(t *testing.T, f *fixture, w, h int, name string) *teatest.TestModel {
	t.Helper()
	return startFiltered(t, f, w, h, "of 15 keys", name, "1–1 of 1 key ")
}

// startFiltered starts the TUI on f at w×h, waits for the connection and
// the whole inventory (total: "of 21 keys"), then filters the Keys pane by
// text and waits for the count line it shows (shown: "1–4 of 4 keys").
func startFiltered(t *testing.T, f *fixture, w, h int, total, text, shown string) *teatest.TestModel {
	t.Helper()
	tm := start(t, f, w, h)
	waitFor(t, tm, "● connected", total)
	press(tm, "/", text, "enter")
	waitFor(t, tm, shown)
	return tm
}

// openSources waits for the connection and opens the Sources pane.
func openSources(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	openPane(t, tm, "5", "kms-prod")
}

// openPane waits for the connection, opens the pane whose digit is tab
// and waits until the output holds every one of want.
func openPane(t *testing.T, tm *teatest.TestModel, tab string, want ...string) {
	t.Helper()
	waitFor(t, tm, "● connected")
	press(tm, tab)
	waitFor(t, tm, want...)
}

// waitLines waits for a frame holding the line first and a line holding
// every one of the others.
func waitLines(t *testing.T, tm *teatest.TestModel, first string, others ...string) {
	t.Helper()
	tuitest.WaitOutput(t, tm.Output(), 20*time.Second, func() string { return fmt.Sprintf("%q and a line with %q", first, others) }, func(b []byte) bool {
		if !bytes.Contains(b, []byte(first)) {
			return false
		}
		for _, l := range bytes.Split(b, []byte("\n")) {
			ok := true
			for _, o := range others {
				ok = ok && bytes.Contains(l, []byte(o))
			}
			if ok {
				return true
			}
		}
		return false
	})
}

func backspaces(tm *teatest.TestModel, n int) {
	for range n {
		tm.Send(tea.KeyMsg{Type: tea.KeyBackspace})
	}
}

// waitCalls waits until the fixture has received n requests.
func waitCalls(t *testing.T, f *fixture, n int) []string {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("%d requests", n), func() bool { return len(f.Calls()) >= n },
		func() string { return fmt.Sprintf("%q", f.Calls()) })
	return f.Calls()
}

func TestActionMenuGolden(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 80, 24, "payments-wrap")
	press(tm, "x")
	waitFor(t, tm, "Actions — payments-wrap in vault-emu", "new key in vault-emu")
	view := golden(t, tm, 80, 24)
	// Purge and recover are for deleted keys only.
	if strings.Contains(view, "[p]") || strings.Contains(view, "[v]") {
		t.Errorf("an active key is offered purge or recover:\n%s", view)
	}
	if n := len(f.Calls()); n != 0 {
		t.Errorf("opening the menu sent %d requests", n)
	}
}

func TestDeleteConfirmGolden(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 80, 24, "payments-wrap")
	press(tm, "x", "d", "payments")
	waitFor(t, tm, "Type payments-wrap to confirm", "› payments")
	golden(t, tm, 80, 24)
}

// TestRotateFlow: x, r, enter rotates the key; the result is in the status
// line and, after the daemon's "keys" notification, the new version is in
// the table.
func TestRotateFlow(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 100, 24, "payments-wrap")
	press(tm, "x", "r")
	waitFor(t, tm, "Rotate payments-wrap in vault-emu?", "https://acme-vault.vault.azure.net")
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("choosing rotate sent a request before the confirmation: %q", f.Calls())
	}
	press(tm, "enter")
	waitFor(t, tm, "✔ rotated payments-wrap in vault-emu: 2 versions, latest 2", "1–2 of 2 keys")
	view := finalView(t, tm)
	f.wantCalls(t, `rotate vault-emu/payments-wrap confirm=""`)
	if strings.Contains(view, "Rotate payments-wrap") {
		t.Errorf("the dialog is still open after success:\n%s", view)
	}
}

// TestDeleteNeedsName: delete sends nothing until the key's name is typed
// exactly; then the confirm string goes with the request.
func TestDeleteNeedsName(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 100, 30, "payments-wrap")
	press(tm, "x", "d")
	waitFor(t, tm, "Delete payments-wrap in vault-emu?", "Type payments-wrap to confirm")
	press(tm, "payments-warp", "enter")
	waitFor(t, tm, "the name does not match: nothing was sent")
	// q and digits are text here, not quit or a pane switch.
	press(tm, "q1")
	waitFor(t, tm, "payments-warpq1")
	time.Sleep(50 * time.Millisecond)
	f.wantCalls(t)
	backspaces(tm, len("warpq1"))
	press(tm, "wrap", "enter")
	// The result in the status line, and the row refetched after the
	// daemon's "keys" notification.
	waitLines(t, tm, "✔ deleted payments-wrap in vault-emu: 1 version, latest 1, deleted", "› payments-wrap ", " deleted ")
	c := waitCalls(t, f, 1)
	if c[0] != `delete vault-emu/payments-wrap confirm="payments-wrap"` {
		t.Errorf("request: %q", c[0])
	}
	// Now deleted: the menu offers recover and purge, not delete.
	press(tm, "x")
	waitFor(t, tm, "[v] recover", "[p] purge for good")
	view := finalView(t, tm)
	if strings.Contains(view, "[d]") || strings.Contains(view, "[r] rotate") {
		t.Errorf("a deleted key is offered delete or rotate:\n%s", view)
	}
}

// TestRefusedCall: the daemon refuses (the caller's role is user on the
// daemon's side): the dialog and the status line show its reason.
func TestRefusedCall(t *testing.T) {
	f := newFixture()
	f.cloud.refuse = &api.Error{Status: 403, Code: api.CodeForbidden,
		Message: `rotate key: forbidden: alice has role "user"; cloud key operations need the admin role`}
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "r", "enter")
	waitFor(t, tm, "✖ rotate payments-wrap refused: rotate key: forbidden: alice has role", "need the admin role")
	view := finalView(t, tm)
	// The dialog stays open with the whole reason, wrapped.
	if !strings.Contains(view, "Rotate payments-wrap in vault-emu?") || !strings.Contains(view, "admin role") {
		t.Errorf("the refusal is not shown in the dialog:\n%s", view)
	}
}

// TestVaultDegradedShown: a vault that is down is a precise refusal.
func TestVaultDegradedShown(t *testing.T) {
	f := newFixture()
	f.cloud.refuse = &api.Error{Status: 503, Code: api.CodeUnavailable,
		Message: "back up payments-wrap in vault-emu: vault-emu is degraded: 403 Forbidden: the client lacks the keys/backup permission"}
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "b", "enter")
	waitFor(t, tm, "✖ backup payments-wrap refused", "lacks the keys/backup")
	_ = finalView(t, tm)
}

// TestUserRoleReadOnly: with the user role the TUI is read-only: the
// action menu offers only what reads (the rotation policy, the stored
// backups), y and Y are gone from the help and send nothing, and the
// status line says read-only.
func TestUserRoleReadOnly(t *testing.T) {
	f := newFixture()
	f.status.Caller.Role = api.RoleUser
	tm := startOnKey(t, f, 80, 24, "payments-wrap")
	press(tm, "x")
	waitFor(t, tm, "rotation policy", "Read-only")
	press(tm, "r", "d", "esc", "y", "Y")
	// Reading the rotation policy is allowed.
	press(tm, "x", "o")
	waitFor(t, tm, "Rotation policy — payments-wrap", "you can read")
	press(tm, "esc")
	waitFor(t, tm, "x key actions")
	view := golden(t, tm, 80, 24)
	for _, hidden := range []string{"rotate", "sync", "delete"} {
		if strings.Contains(view, hidden) {
			t.Errorf("a read-only TUI shows %q:\n%s", hidden, view)
		}
	}
	f.wantCalls(t)
}

// TestNotCloudKey: a KMIP key has no cloud actions.
func TestNotCloudKey(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 24, "acme.hr.key.1")
	press(tm, "x")
	waitFor(t, tm, "acme.hr.key.1 comes from kms-prod, not a cloud vault")
	_ = finalView(t, tm)
}

// TestKeyOfRemovedVault: a key of an Azure vault whose section left
// keyward.toml (the daemon keeps its keys as last seen and announces no
// cloud source of that name) is not called "not a cloud vault": x says
// which kind of source it is and why the daemon offers nothing for it,
// in the daemon's words (the source's health reason).
func TestKeyOfRemovedVault(t *testing.T) {
	f := newFixture()
	k := f.keys[len(f.keys)-1]
	k.Source, k.Name, k.ID = "vault-old", "orders-kek", engine.KeyID("vault-old", "orders-kek", "1")
	f.keys = append(f.keys, k)
	gone := engine.Source{Name: "vault-old", Kind: "azure", Health: engine.HealthUnknown,
		Reason: "not in the configuration any more; its keys are kept as last seen", Keys: 1}
	f.sources = append(f.sources, api.SourceInfo{Source: gone})
	f.status.Sources = append(f.status.Sources, gone)
	f.status.Keys++
	tm := startFiltered(t, f, 200, 24, "of 16 keys", "orders-kek", "1–1 of 1 key ")
	press(tm, "x")
	waitFor(t, tm, "orders-kek comes from vault-old (azure), which this daemon offers no key actions for: not in the configuration any more; its keys are kept as last seen")
	view := finalView(t, tm)
	if strings.Contains(view, "not a cloud vault") {
		t.Errorf("a key of an Azure vault is called not a cloud vault:\n%s", view)
	}
}

// TestSyncKeys: y syncs the selected key's source, Y every source.
func TestSyncKeys(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 24, "payments-wrap")
	press(tm, "y")
	waitFor(t, tm, "✔ synced vault-emu")
	press(tm, "Y")
	waitFor(t, tm, "✔ synced kms-prod, vault-emu")
	_ = finalView(t, tm)
	f.wantCalls(t, `sync "vault-emu"`, `sync ""`)
}

// TestEditAndPolicyForms: the edit form sends only what changed; a bad
// duration in the policy form is refused before sending.
func TestEditAndPolicyForms(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "t")
	waitFor(t, tm, "Edit payments-wrap in vault-emu", "Tags (name=value")
	press(tm, "enter", "enter", "enter") // nothing changed
	waitFor(t, tm, "nothing changed")
	press(tm, "owner=payments", "enter")
	waitFor(t, tm, "✔ updated payments-wrap in vault-emu (tags)")
	press(tm, "x", "o")
	waitFor(t, tm, "Rotation policy — payments-wrap")
	press(tm, "ninety days", "enter", "enter", "enter", "enter")
	waitFor(t, tm, `invalid duration "ninety days"`)
	backspaces(tm, len("ninety days"))
	press(tm, "90d", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "✔ rotation policy of payments-wrap in vault-emu: rotate after 90d")
	_ = finalView(t, tm)
	c := f.Calls()
	if len(c) != 2 || c[0] != "update vault-emu/payments-wrap tags=map[owner:payments]" ||
		c[1] != "policy vault-emu/payments-wrap rotate-after=90d expire-after=0s" {
		t.Errorf("requests:\n%s", sortedCalls(c))
	}
}

// TestBackupRestoreFlow backs a key up, then restores it from the list.
func TestBackupRestoreFlow(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "s")
	waitFor(t, tm, "keyward holds no backup of payments-wrap")
	press(tm, "esc", "x", "b", "enter")
	waitFor(t, tm, "✔ backed up payments-wrap from vault-emu: backup bk-1, 1 version")
	press(tm, "x", "s")
	waitFor(t, tm, "2026-11-23 12:00 · 1 version · from vault-emu → into vault-emu")
	press(tm, "enter")
	waitFor(t, tm, "Restore payments-wrap into vault-emu?")
	press(tm, "enter")
	waitFor(t, tm, "✔ restored payments-wrap into vault-emu from backup bk-1")
	_ = finalView(t, tm)
	if c := f.Calls(); len(c) != 2 || c[1] != "restore bk-1 into vault-emu" {
		t.Errorf("requests: %q", c)
	}
}

func TestCreateKeyForm(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "n")
	waitFor(t, tm, "New key in vault-emu")
	press(tm, "bad name!", "enter", "enter", "enter", "enter")
	waitFor(t, tm, `✖ name "bad name!": a vault key name is 1 to 127 letters`)
	backspaces(tm, len("bad name!"))
	press(tm, "orders-kek", "tab", "tab")
	backspaces(tm, len("P-256"))
	press(tm, "P-384", "enter", "enter")
	waitFor(t, tm, "✔ created orders-kek in vault-emu")
	_ = finalView(t, tm)
	f.wantCalls(t, "create vault-emu/orders-kek EC 0P-384")
}

// TestCreateAnswerLostNoColorGolden: a create whose vault answer the
// daemon found lost (and the key made) is reported done, with what keyward
// found, whole at 80x24 without colour: the message takes the help line's
// row rather than being cut.
func TestCreateAnswerLostNoColorGolden(t *testing.T) {
	f := newFixture()
	noColorGoldenOn(t, f, func(t *testing.T, tm *teatest.TestModel) {
		press(tm, "/", "payments-wrap", "enter")
		waitFor(t, tm, "1–1 of 1 key ")
		press(tm, "x", "n", "lost-key", "enter", "enter", "enter", "enter")
	}, "created lost-key in vault-emu", "the key it made: lost-key version 1", "no second)")
	f.wantCalls(t, "create vault-emu/lost-key EC 0P-256")
}

// TestBackendWithoutActions: a daemon that does not serve the cloud
// routes offers no cloud action and says so; one without the certificate
// routes says so when asked.
func TestBackendWithoutActions(t *testing.T) {
	f := newFixture()
	tm := tuitest.Start(t, plainBackend{f: f}, tui.Options{Title: "keyward demo", Now: func() time.Time { return fixedNow }}, 100, 24)
	waitFor(t, tm, "● connected", "of 15 keys")
	press(tm, "x")
	waitFor(t, tm, "this daemon offers no cloud key actions")
	press(tm, "5")
	waitFor(t, tm, "kms-prod")
	press(tm, "c")
	waitFor(t, tm, "Certificates — kms-prod")
	press(tm, "s")
	waitFor(t, tm, "✖ no such endpoint")
	_ = finalView(t, tm)
}

func TestCSRFormGolden(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	openSources(t, tm)
	press(tm, "c", "c")
	waitFor(t, tm, "New client key and CSR for kms-prod", "Common name (CN)")
	golden(t, tm, 80, 24)
}

// TestFormFocusNoColorGolden: without colour (the goldens' Ascii profile,
// as NO_COLOR on a terminal without attributes) the field being typed in
// is marked: ▸ before its label, › before its input; the others have none.
func TestFormFocusNoColorGolden(t *testing.T) {
	tm := start(t, newFixture(), 80, 24)
	openSources(t, tm)
	press(tm, "c", "c")
	waitFor(t, tm, "New client key and CSR for kms-prod")
	press(tm, "db-proxy", "tab")
	waitFor(t, tm, "▸ Organization")
	view := golden(t, tm, 80, 24)
	if !strings.Contains(view, "    db-proxy") || strings.Contains(view, "› db-proxy") {
		t.Errorf("the field left still looks focused:\n%s", view)
	}
}

// TestCSRFlow: without a CN nothing is sent; with one the CSR PEM is shown
// and written where asked; a second CSR asks before replacing the key.
func TestCSRFlow(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	tm := start(t, f, 100, 40)
	openSources(t, tm)
	press(tm, "c", "c")
	waitFor(t, tm, "Common name (CN)")
	press(tm, "enter", "acme", "enter", "enter", "enter")
	waitFor(t, tm, "the common name (CN) is required")
	time.Sleep(50 * time.Millisecond)
	f.wantCalls(t)
	// The cursor went back to the CN field.
	out := filepath.Join(dir, "kms-prod.csr")
	press(tm, "keyward-crm", "tab", "tab", "tab", out, "enter")
	waitFor(t, tm, "-----BEGIN CERTIFICATE REQUEST-----", "Private key kept by the daemon (mode 0600) in:",
		"  /var/lib/keyward/kmip/kms-prod/client.key", "CSR written to:", "  "+out)
	c := waitCalls(t, f, 1)
	if c[0] != `csr kms-prod cn="keyward-crm" o="acme" rsa=false force=false` {
		t.Errorf("request: %q", c[0])
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s holds no PEM: %q", out, b)
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil || csr.Subject.CommonName != "keyward-crm" {
		t.Fatalf("written CSR: %v %v", csr, err)
	}
	// Again: the daemon has a key now and asks before replacing it.
	press(tm, "esc", "c", "c", "keyward-crm-2", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "Replace the private key of kms-prod?", "already has a private key")
	press(tm, "enter")
	waitFor(t, tm, "CSR for kms-prod (CN keyward-crm-2)")
	_ = finalView(t, tm)
	c = f.Calls()
	if len(c) != 3 || !strings.HasSuffix(c[2], "force=true") {
		t.Errorf("requests:\n%s", strings.Join(c, "\n"))
	}
}

// TestInstallFlow: a missing file is refused before sending; a certificate
// for another key is refused by the "daemon" with its reason.
func TestInstallFlow(t *testing.T) {
	dir := t.TempDir()
	f := newFixture()
	tm := start(t, f, 120, 30)
	openSources(t, tm)
	press(tm, "c", "i", filepath.Join(dir, "missing.pem"), "enter", filepath.Join(dir, "root.pem"), "enter")
	waitFor(t, tm, "✖ certificate file "+dir, "nothing was sent")
	f.wantCalls(t)
	// A certificate for a key that is not the CSR's.
	certPath := filepath.Join(dir, "other.pem")
	writeOtherCert(t, certPath)
	press(tm, "esc", "c", "i", certPath, "enter", certPath, "enter")
	waitFor(t, tm, "✖ the certificate does not match the private key")
	_ = finalView(t, tm)
}

// startImport opens the Sources pane at 100×30 on the fixture, with a
// keystore file to import (the fixture does not parse it).
func startImport(t *testing.T) (*fixture, *teatest.TestModel, string) {
	ks := filepath.Join(t.TempDir(), "client.jks")
	if err := os.WriteFile(ks, []byte("not really a JKS, the fixture does not parse it"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := newFixture()
	tm := start(t, f, 100, 30)
	openSources(t, tm)
	return f, tm, ks
}

// TestImportPasswordNeverShown: the password is masked on every frame, is
// sent once, and is gone from the form after the submit.
func TestImportPasswordNeverShown(t *testing.T) {
	f, tm, ks := startImport(t)
	// Every byte drawn from here on is kept, to search for the password.
	var all bytes.Buffer
	out := io.TeeReader(tm.Output(), &all)
	wait := func(want ...string) {
		t.Helper()
		tuitest.WaitOutput(t, out, 20*time.Second, func() string { return fmt.Sprintf("%q", want) }, func([]byte) bool {
			for _, w := range want {
				if !bytes.Contains(all.Bytes(), []byte(w)) {
					return false
				}
			}
			return true
		})
	}
	const secret = "s3cret-Passw0rd"
	press(tm, "c", "m", ks, "enter", secret)
	wait("•••••••••••••••")
	press(tm, "enter", "enter", "enter", "enter") // password file, alias, key password file: empty
	wait("keystore password was incorrect")
	// Refused: the form was cleared, the password must be typed again.
	press(tm, "up", "up", "up", "changeit", "enter", "enter", "enter", "enter")
	wait("Imported the keystore of kms-prod", "private key kms-client with a chain of 2")
	view := finalView(t, tm)
	all.WriteString(view)
	for _, pw := range []string{secret, "changeit"} {
		if bytes.Contains(all.Bytes(), []byte(pw)) {
			t.Errorf("the password %q was drawn on the terminal", pw)
		}
	}
	f.cloud.mu.Lock()
	got := f.cloud.passwords
	f.cloud.mu.Unlock()
	if len(got) != 2 || got[0] != secret || got[1] != "changeit" {
		t.Errorf("passwords received: %q", got)
	}
}

// TestImportPasswordFiles: the keystore's password and its key's password
// can come from files; each is sent without its final line ending. A file
// that cannot be read is named once as what it is ("password file", not
// "password file file"), and nothing is sent.
func TestImportPasswordFiles(t *testing.T) {
	dir := t.TempDir()
	pwFile, keyPWFile := filepath.Join(dir, "store.pw"), filepath.Join(dir, "key.pw")
	for p, b := range map[string]string{pwFile: "changeit\r\n", keyPWFile: "k3y-pw\n"} {
		if err := os.WriteFile(p, []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("read", func(t *testing.T) {
		f, tm, ks := startImport(t)
		press(tm, "c", "m", ks, "enter", "enter", pwFile, "enter", "enter", keyPWFile, "enter")
		waitFor(t, tm, "Imported the keystore of kms-prod")
		_ = finalView(t, tm)
		f.cloud.mu.Lock()
		got, keys := f.cloud.passwords, f.cloud.keyPasswords
		f.cloud.mu.Unlock()
		if len(got) != 1 || got[0] != "changeit" || keys[0] != "k3y-pw" {
			t.Errorf("passwords received: %q, key passwords %q", got, keys)
		}
	})
	for _, missing := range []string{"store", "key"} {
		t.Run("missing "+missing, func(t *testing.T) {
			f, tm, ks := startImport(t)
			pw, kp, named := filepath.Join(dir, "missing.pw"), "", "✖ password file "
			if missing == "key" {
				pw, kp, named = pwFile, filepath.Join(dir, "missing.pw"), "✖ key password file "
			}
			press(tm, "c", "m", ks, "enter", "enter", pw, "enter", "enter", kp, "enter")
			// One word: the message wraps where the temporary
			// directory's random name puts it ("does" / "not exist").
			waitFor(t, tm, "exist")
			view := strings.Join(strings.Fields(strings.ReplaceAll(finalView(t, tm), "│", " ")), " ")
			if !strings.Contains(view, named+filepath.Join(dir, "missing.pw")+" does not exist: nothing was sent") {
				t.Errorf("the missing file is not named:\n%s", view)
			}
			f.wantCalls(t)
		})
	}
}

// TestImportReplaceFlow: importing over a key the source already holds is
// refused by the "daemon" (409); the pane asks before replacing it and
// sends again with Force and the same password; cancelling sends nothing.
func TestImportReplaceFlow(t *testing.T) {
	f, tm, ks := startImport(t)
	press(tm, "c", "m", ks, "enter", "changeit", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "Imported the keystore of kms-prod")
	waitCalls(t, f, 1)

	// Again: the source has a key now; cancelling the question sends nothing more.
	press(tm, "esc", "c", "m", ks, "enter", "changeit", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "Replace the private key of kms-prod?", "already has a different private key", "replace the ones installed now.")
	press(tm, "esc")
	waitFor(t, tm, "c certificates")
	time.Sleep(50 * time.Millisecond)
	if c := f.Calls(); len(c) != 2 {
		t.Fatalf("requests after cancelling:\n%s", strings.Join(c, "\n"))
	}

	// And confirmed: sent again with Force.
	press(tm, "c", "m", ks, "enter", "changeit", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "Replace the private key of kms-prod?")
	press(tm, "enter")
	waitFor(t, tm, "Imported the keystore of kms-prod", "private key kms-client with a chain of 2")
	_ = finalView(t, tm)
	c := f.Calls()
	want := []string{"force=false", "force=false", "force=false", "force=true"}
	if len(c) != len(want) {
		t.Fatalf("requests:\n%s", strings.Join(c, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(c[i], "import kms-prod ") || !strings.HasSuffix(c[i], w) {
			t.Errorf("request %d: %q, want an import with %s", i, c[i], w)
		}
	}
	// The password kept for the second send was not cleared before it.
	f.cloud.mu.Lock()
	got := f.cloud.passwords
	f.cloud.mu.Unlock()
	if len(got) != 4 || got[3] != "changeit" {
		t.Errorf("passwords received: %q", got)
	}
}

// writeOtherCert writes a client certificate, for a key that is no CSR's,
// issued by a test CA (pki.CA).
func writeOtherCert(t *testing.T, path string) {
	t.Helper()
	ca, err := pki.NewCA("other CA")
	if err != nil {
		t.Fatal(err)
	}
	cert, _, err := ca.Issue(pki.IssueOptions{CommonName: "someone-else", Client: true,
		NotBefore: fixedNow.Add(-time.Hour), NotAfter: fixedNow.Add(24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, cert, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestActivityRangeFollowsClock: an event recorded after the TUI started
// shows in the Activity pane when the daemon announces it, as long as the
// user has not moved the range.
func TestActivityRangeFollowsClock(t *testing.T) {
	f := newFixture()
	tm, clock := activityOnClock(t, f)
	eventLater(t, tm, f, clock, "vault-emu/payments-wrap/1", engine.OpRotated, "rotated after the TUI started")
	_ = finalView(t, tm)
}

// activityOnClock starts the TUI (140x30) on the Activity pane, its seven
// events over the last 31 days, with a clock at fixedNow that the test
// moves (eventLater).
func activityOnClock(t *testing.T, f *fixture) (*teatest.TestModel, *atomic.Int64) {
	t.Helper()
	clock := new(atomic.Int64)
	clock.Store(fixedNow.UnixNano())
	tm := tuitest.Start(t, f, tui.Options{Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }}, 140, 30)
	openPane(t, tm, "3", "7 events over 31 days")
	return tm, clock
}

// eventLater moves clock two hours on, records an event op by carol on the
// vault-emu key id a minute before then, announces it as the daemon does
// (an activity notice) and waits until the pane shows it as its eighth.
func eventLater(t *testing.T, tm *teatest.TestModel, f *fixture, clock *atomic.Int64, id, op, details string) {
	t.Helper()
	later := fixedNow.Add(2 * time.Hour)
	clock.Store(later.UnixNano())
	f.mu.Lock()
	f.events[id] = append(f.events[id], engine.Event{ID: 200, Time: later.Add(-time.Minute), KeyID: id, Source: "vault-emu",
		Operation: op, Actor: "carol", Origin: engine.OriginKeyward, Details: details})
	f.mu.Unlock()
	f.notes <- notification(api.NoteActivity, "vault-emu")
	waitFor(t, tm, details, "8 events over 31 days")
}

// TestUploadForm: bring your own key from a KMIP ring; a source that is not
// KMIP is refused before sending.
func TestUploadForm(t *testing.T) {
	f := newFixture()
	tm := startOnKey(t, f, 120, 30, "payments-wrap")
	press(tm, "x", "u")
	waitFor(t, tm, "Upload a key into vault-emu", "Key from")
	press(tm, "crm-byok", "enter")
	backspaces(tm, len("local"))
	press(tm, "vault-emu/crm", "enter", "enter", "enter", "enter")
	waitFor(t, tm, `"vault-emu" is not a KMIP source (have: kms-prod)`)
	f.wantCalls(t)
	// The cursor is back on the field that was wrong.
	backspaces(tm, len("vault-emu/crm"))
	press(tm, "kms-prod/crm", "enter", "enter", "enter", "enter")
	waitFor(t, tm, "✔ uploaded crm-byok into vault-emu (newest generation of crm from kms-prod)")
	_ = finalView(t, tm)
	f.wantCalls(t, "upload vault-emu/crm-byok  0 from=kms-prod/crm")
}

// keyward tui --read-only: an admin's TUI hides every action that changes
// something as a user's does; the certificate menu only shows.
func TestReadOnlyOption(t *testing.T) {
	f := newFixture()
	tm := startWith(t, f, 80, 24, tui.Options{ReadOnly: true})
	waitFor(t, tm, "● connected", "admin · read-only", "of 15 keys")
	press(tm, "/", "payments-wrap", "enter")
	waitFor(t, tm, "1–1 of 1 key ")
	press(tm, "x")
	waitFor(t, tm, "rotation policy", "Read-only (keyward tui")
	press(tm, "r", "esc", "Y", "5", "c")
	waitFor(t, tm, "show installed certificate", "changing the certificate is hidden")
	view := finalView(t, tm)
	if strings.Contains(view, "new key + CSR") || strings.Contains(view, "import keystore") {
		t.Errorf("the certificate menu offers a change:\n%s", view)
	}
	f.wantCalls(t)
}
