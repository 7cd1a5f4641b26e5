package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/keyward/keyward/daemon/api"
)

// withAWSBackup is the AWS fixture holding a backup of crm-byok (the
// copy keyward kept when it uploaded the material).
func withAWSBackup() *fixture {
	f := newAWSFixture()
	f.cloud.backups = append(f.cloud.backups, api.BackupInfo{ID: "bk-aws", Source: "aws-prod", Kind: "aws", Geography: "aws", Key: awsImported,
		Versions: 1, Created: fixedNow.Add(-20 * 24 * time.Hour), Size: 120, Actor: "alice"})
	return f
}

// openAWSRestore filters the Keys pane to crm-byok and opens its restore
// form (x → s → the one backup).
func openAWSRestore(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	askAWSRestore(t, tm)
	waitFor(t, tm, "Material expires")
}

// askAWSRestore is openAWSRestore without waiting for the form.
func askAWSRestore(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	press(tm, "/", awsImported[:8], "enter")
	waitFor(t, tm, "1–1 of 1 key ")
	press(tm, "x", "s")
	waitFor(t, tm, "from aws-prod → into aws-prod")
	press(tm, "enter")
}

// TestRestoreExpiryForm: restoring an AWS backup asks when the
// re-imported material expires (AWS declares material-expiry) — a date,
// never, or as kept at upload (empty) — and sends that choice; a value
// that is not a date is refused in the form, before anything is sent.
// An Azure restore keeps its plain confirmation (TestBackupRestoreFlow).
func TestRestoreExpiryForm(t *testing.T) {
	for _, c := range []struct {
		typed, done, call string
	}{
		{"2027-03-01", "material expiring 2027-03-01", "restore bk-aws into aws-prod, material expiring 2027-03-01"},
		{"never", "material without expiry", "restore bk-aws into aws-prod, material without expiry"},
		{"", "from backup bk-aws", "restore bk-aws into aws-prod"},
	} {
		t.Run(strings.TrimSpace(c.typed+" "), func(t *testing.T) {
			f := withAWSBackup()
			tm := start(t, f, 120, 30)
			waitFor(t, tm, "● connected", "of 21 keys")
			openAWSRestore(t, tm)
			if c.typed == "never" {
				// Not a date first: refused, nothing sent.
				press(tm, "next week", "enter")
				waitFor(t, tm, `material expires "next week" is not a date`)
				backspaces(tm, len("next week"))
			}
			press(tm, c.typed, "enter")
			waitFor(t, tm, "✔ restored "+awsImported, c.done)
			_ = finalView(t, tm)
			f.wantCalls(t, c.call)
		})
	}
}

func TestRestoreExpiryFormGolden(t *testing.T) {
	f := withAWSBackup()
	tm := start(t, f, 80, 24)
	waitFor(t, tm, "● connected", "of 21 keys")
	openAWSRestore(t, tm)
	golden(t, tm, 80, 24)
}

func TestRestoreExpiryFormNoColorGolden(t *testing.T) {
	noColorGoldenOn(t, withAWSBackup(), askAWSRestore, "Material expires", "empty, YYYY-MM-DD or never")
}

// TestAWSUploadFormMaterialExpiry: an AWS key has no dates, its imported
// material does: the upload form offers "Material expires" (no Expires,
// no Not before) and sends the date as the upload's expiry.
func TestAWSUploadFormMaterialExpiry(t *testing.T) {
	f := newAWSFixture()
	tm := startFiltered(t, f, 120, 30, "of 21 keys", awsImported[:8], "1–1 of 1 key ")
	press(tm, "x", "u")
	waitFor(t, tm, "Upload a key into aws-prod", "Material expires (YYYY-MM-DD, at most 365 days ahead; empty: never)")
	press(tm, "crm-byok-2", "enter")
	backspaces(tm, len("local"))
	press(tm, "kms-prod/crm", "enter", "enter", "enter", "2027-03-01", "enter")
	waitFor(t, tm, "✔ uploaded crm-byok-2 into aws-prod (newest generation of crm from kms-prod)")
	view := finalView(t, tm)
	f.wantCalls(t, "upload aws-prod/crm-byok-2  0 from=kms-prod/crm expires=2027-03-01")
	if strings.Contains(view, "Not before") {
		t.Errorf("the AWS upload form offers an activation date:\n%s", view)
	}
}
