package cloud

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/engine"
)

// TestUnsupportedSaysItOnce: a connector's refusal whose reason is also
// the key's keyward:unsupported tag (which starts "not supported: ", the
// way the TUI's menu shows it) reads "not supported" once, as the CLI and
// the TUI print it — it read "backup: not supported by this cloud: not
// supported: AWS cannot export key material" — and keeps its kind; a
// reason of another kind keeps its words.
func TestUnsupportedSaysItOnce(t *testing.T) {
	why := "not supported: AWS cannot export key material (only keys keyward uploaded have a backup)"
	k := engine.Key{Tags: map[string]string{engine.TagUnsupported + engine.CapBackup: why}}
	if k.Unsupported(engine.CapBackup) != why {
		t.Fatalf("the tag reads %q", k.Unsupported(engine.CapBackup))
	}
	err := error(&Error{Kind: ErrUnsupported, Op: "backup", Reason: k.Unsupported(engine.CapBackup)})
	msg := err.Error()
	if strings.Count(msg, "not supported") != 1 || msg != "backup: not supported by this cloud: AWS cannot export key material (only keys keyward uploaded have a backup)" {
		t.Errorf("refusal reads %q", msg)
	}
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("%v is no longer ErrUnsupported", err)
	}
	other := &Error{Kind: ErrConflict, Op: "purge", Reason: "not supported: kept as written"}
	if other.Error() != "purge: conflict with the key's state: not supported: kept as written" {
		t.Errorf("another kind's reason changed: %q", other.Error())
	}
}

// TestPathNameSaysSo: in a cloud whose connector has no name rule of its
// own (Azure, AWS), a new key's name with a / (how the inventory shows a
// Google key) is refused saying what the name should be, not only which
// characters it may hold.
func TestPathNameSaysSo(t *testing.T) {
	err := checkName("europe-west1/payments/card-kek")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "holds a /: a new key in this cloud takes a bare name") {
		t.Errorf("a path as a name: %v", err)
	}
	if err := checkName("acme-payments-card"); err != nil {
		t.Errorf("a bare name: %v", err)
	}
}
