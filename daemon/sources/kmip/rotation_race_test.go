package kmip

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// TestRotationBetweenLocateAndReadsNeverEncryptsWithTheOldGeneration: the
// KMS rotates crm (generation 4 made Active, 3 deactivated) after a poll's
// Locate is answered and before its reads. That poll knows 3 only, read
// Deactivated: it must not go on encrypting with 3 (nor with anything but
// an Active generation); at worst the ring has no encryptor until the next
// poll, which finds 4 and encrypts with it.
func TestRotationBetweenLocateAndReadsNeverEncryptsWithTheOldGeneration(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var arm atomic.Bool
	var srv *kms.Server
	rotated := make(chan error, 1)
	srv, err := kms.Start(ctx, kms.Options{Dir: dir, Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 3}},
		AfterLocate: func() {
			if arm.CompareAndSwap(true, false) {
				_, err := srv.Rotate("crm")
				rotated <- err
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Stop() })
	b := &backend{name: "embedded", addr: srv.Addr(), dir: dir, ca: srv.CA, caFile: srv.CAFile, certFile: srv.CertFile, keyFile: srv.KeyFile,
		stop: srv.Stop, embedded: srv, serverWildcards: true}
	t.Cleanup(b.closeAdmin)
	e := polledCRM(t, b)
	if got := e.encryptsWith("crm"); got != "acme.crm.key.3" {
		t.Fatalf("before the rotation crm encrypts with %q", got)
	}
	arm.Store(true)
	if err := e.poll(); err != nil {
		t.Fatalf("the poll the rotation raced: %v", err)
	}
	if err := <-rotated; err != nil {
		t.Fatal(err)
	}
	r, _ := e.rings.Ring("crm")
	for _, g := range r.Gens {
		if g.Encrypts && (g.Name != "acme.crm.key.4" || g.State != engine.StateActive) {
			t.Fatalf("after a rotation between Locate and reads, %s (%s) encrypts: the KMS has deactivated it", g.Name, g.State)
		}
	}
	if _, _, err := e.rings.EncryptionKey("crm"); err == nil {
		if e.encryptsWith("crm") != "acme.crm.key.4" {
			t.Fatalf("the proxy encrypts with %s", e.encryptsWith("crm"))
		}
	} else if !errors.Is(err, keyring.ErrNoActiveKey) {
		t.Fatalf("encryption key after the raced poll: %v", err)
	} else {
		t.Logf("the raced poll left crm without an encryptor (%v); the next poll finds generation 4", err)
	}
	e.mustPoll()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.4" {
		t.Fatalf("the poll after the rotation: crm encrypts with %q, want acme.crm.key.4", got)
	}
}
