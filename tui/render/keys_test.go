package render

import (
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/keyward/keyward/engine"
)

func ptr(t time.Time) *time.Time { return &t }

func TestKey(t *testing.T) {
	k := engine.Key{ID: "kms/a.b/3", Source: "kms", Name: "a.b", Version: "3", Algorithm: "AES", Length: 256,
		State: engine.StateActive, Fingerprint: "sha256:00112233445566778899", Created: ptr(now.Add(-400 * 24 * time.Hour)),
		Expires: ptr(now.Add(5 * 24 * time.Hour))}
	a := engine.Classify(k, now, engine.DefaultThresholds())
	k.Aging = &a
	got := Key(k, now).Cells
	want := map[int]string{KeyName: "a.b", KeySource: "kms", KeyApplication: "—", KeyVersion: "3", KeyAlgorithm: "AES-256",
		KeyState: "active", KeyAging: "expiring-7d", KeyExpires: "2026-11-28", KeyAge: "1y35d", KeyFingerprint: "001122334455"}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("column %s = %q, want %q", KeyPaneColumns()[i].Title, got[i], w)
		}
	}
}

func TestAgingLabel(t *testing.T) {
	for b, want := range map[engine.Bucket]string{
		engine.BucketExpired:      "expired",
		engine.ExpiringBucket(30): "expiring-30d",
		engine.BucketOverdue:      "rotation-overdue",
		engine.BucketHealthy:      "healthy",
		engine.BucketRetired:      "retired",
	} {
		if got := AgingLabel(b); got != want {
			t.Errorf("AgingLabel(%s) = %q, want %q", b, got, want)
		}
		if w := ansi.StringWidth(AgingLabel(b)); w > KeyPaneColumns()[KeyAging].Width {
			t.Errorf("label %q is wider than the AGING column", AgingLabel(b))
		}
	}
}

// keyward keys list shows a key as the Keys pane does: the same cells, an
// unknown value the same dash.
func TestKeyListRowIsTheKeysRow(t *testing.T) {
	k := engine.Key{ID: "az/new-key/0a1b", Source: "az", Name: "new-key", State: engine.StatePreActive}
	got := KeyListRow(k, now).Cells
	want := []string{"az/new-key/0a1b", "—", "pre-active", "—", "—", "—", "—", "—"}
	if len(got) != len(want) {
		t.Fatalf("cells %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("column %s = %q, want %q (the Keys pane shows %q)", keyListColumns[i].Title, got[i], want[i], Key(k, now).Cells[keyListCells[i]])
		}
	}
}

// keyward key create|rotate|… prints a key's versions in the cells the
// Keys pane and keys list use.
func TestKeyVersions(t *testing.T) {
	created := now.Add(-24 * time.Hour)
	out := KeyVersions([]engine.Key{
		{Source: "vault", Name: "orders", Version: "0a1b2c", State: engine.StateActive, Algorithm: "RSA", Length: 2048, Created: &created, LinkedTo: "kms-prod/crm.5"},
		{Source: "vault", Name: "orders", Version: "9f8e7d", State: engine.StateDisabled, Algorithm: "RSA-HSM"},
	}, now).Text(0)
	want := "VERSION STATE    ALGORITHM CREATED    EXPIRES    LINKED TO\n" +
		"0a1b2c  active   RSA-2048  2026-11-22 —          kms-prod/crm.5\n" +
		"9f8e7d  disabled RSA-HSM   —          —          —\n"
	if out != want {
		t.Errorf("versions:\n%s\nwant:\n%s", out, want)
	}
}

// The ALIAS cell is the name an AWS key is known by (its id holds only the
// key ID): its first alias and how many more; a key named in its id, or
// whose alias is its name, has none.
func TestAliasCell(t *testing.T) {
	aws := func(aliases string) engine.Key {
		return engine.Key{ID: "aws/0f1e2d3c/current", Source: "aws", Name: "0f1e2d3c", Tags: map[string]string{engine.TagAliases: aliases}}
	}
	for _, tc := range []struct {
		k    engine.Key
		want string
	}{
		{aws("payments"), "payments"},
		{aws("payments,payments-old,ledger"), "payments +2"},
		{aws(""), Dash},
		{aws("0f1e2d3c"), Dash},
		{engine.Key{ID: "kms/acme.crm.key.1", Name: "acme.crm.key.1"}, Dash},
	} {
		if got := AliasCell(tc.k); got != tc.want {
			t.Errorf("AliasCell(%v) = %q, want %q", tc.k.Tags, got, tc.want)
		}
		if got := KeyListRow(tc.k, now).Cells[1]; got != tc.want {
			t.Errorf("keys list's ALIAS of %v = %q, want %q", tc.k.Tags, got, tc.want)
		}
	}
}
