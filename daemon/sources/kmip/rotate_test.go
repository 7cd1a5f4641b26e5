package kmip

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/engine/keyring"
)

// Rotating an application on a real KMS (the embedded one and PyKMIP):
// the next name in its scheme is created and activated, the poll puts it
// in the ring as the encrypting generation, and rotating again from the
// same newest generation (an answer lost to a crash) creates nothing.
func TestRotateCreatesTheNextGeneration(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b.create(t, "acme.crm.key.4")
		b.create(t, "acme.crm.key.5")
		e := polledCRM(t, b)
		newest, err := e.src.NewestGeneration("crm")
		if err != nil || newest != "acme.crm.key.5" {
			t.Fatalf("newest %q, %v", newest, err)
		}
		rot, err := e.src.Rotate(ctx, "crm", newest)
		if err != nil {
			t.Fatal(err)
		}
		if rot.Name != "acme.crm.key.6" || rot.Existed || rot.UID == "" {
			t.Fatalf("rotation %+v", rot)
		}
		e.mustPoll()
		if enc := encrypting(mustRing(t, e, "crm")); enc == nil || enc.Name != "acme.crm.key.6" {
			t.Fatalf("encrypting generation %+v, want acme.crm.key.6", enc)
		}
		if n, _ := e.src.NewestGeneration("crm"); n != "acme.crm.key.6" {
			t.Fatalf("newest after the poll %q", n)
		}
		// The same rotation again: the answer to the first was lost.
		again, err := e.src.Rotate(ctx, "crm", newest)
		if err != nil || !again.Existed || again.UID != rot.UID {
			t.Fatalf("second rotation from key.5: %+v, %v; want the existing key.6", again, err)
		}
		found, err := b.adminClient(t).Locate().WithName("acme.crm.key.6").Exec()
		if err != nil || len(found.UniqueIdentifier) != 1 {
			t.Fatalf("objects named acme.crm.key.6: %v, %v; want exactly one", found.UniqueIdentifier, err)
		}
		// Created but never activated (the daemon died between the two):
		// the retry activates it instead of creating another.
		resp, err := b.adminClient(t).Create().AES(256, kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt).WithName("acme.crm.key.7").Exec()
		if err != nil {
			t.Fatal(err)
		}
		third, err := e.src.Rotate(ctx, "crm", "acme.crm.key.6")
		if err != nil || !third.Existed || third.UID != resp.UniqueIdentifier {
			t.Fatalf("rotation over a pre-active key.7: %+v, %v", third, err)
		}
		e.mustPoll()
		if enc := encrypting(mustRing(t, e, "crm")); enc == nil || enc.Name != "acme.crm.key.7" {
			t.Fatalf("encrypting generation %+v, want the activated acme.crm.key.7", enc)
		}
		if _, err := e.src.Rotate(ctx, "nope", "x.1"); err == nil {
			t.Error("rotated an application the source does not have")
		}
	})
}

func mustRing(t *testing.T, e *env, app string) keyring.Ring {
	t.Helper()
	r, ok := e.rings.Ring(app)
	if !ok {
		t.Fatalf("no ring %s", app)
	}
	return r
}

// TestRotateWhoseAnswerIsLostCreatesOneKey: the connection drops after the
// KMS made the new generation and before its answer arrives (a load
// balancer cutting it). The KMIP client must not send the Create again on
// a new connection: that would make a second key of the same name. The
// rotation fails saying so, and the administrator's retry (the same
// rotation) adopts the key the first one made: one acme.crm.key.4, Active,
// encrypting.
func TestRotateWhoseAnswerIsLostCreatesOneKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, e := cutAtTheNextCreate(t)
	_, err := e.src.Rotate(ctx, "crm", "acme.crm.key.3")
	if err == nil || !strings.Contains(err.Error(), "not sent again") {
		t.Fatalf("the rotation whose answer was lost: %v", err)
	}
	found, lerr := b.adminClient(t).Locate().WithName("acme.crm.key.4").Exec()
	if lerr != nil || len(found.UniqueIdentifier) != 1 {
		t.Fatalf("objects named acme.crm.key.4 after the lost answer: %v, %v; want exactly one", found.UniqueIdentifier, lerr)
	}
	rot, err := e.src.Rotate(ctx, "crm", "acme.crm.key.3") // the administrator's retry
	if err != nil || !rot.Existed || rot.UID != found.UniqueIdentifier[0] {
		t.Fatalf("the retry: %+v, %v", rot, err)
	}
	if again, _ := b.adminClient(t).Locate().WithName("acme.crm.key.4").Exec(); len(again.UniqueIdentifier) != 1 {
		t.Fatalf("objects named acme.crm.key.4 after the retry: %v", again.UniqueIdentifier)
	}
	e.mustPoll()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.4" {
		t.Fatalf("crm encrypts with %q", got)
	}
}

// TestRotationAfterACutCreateFinishesIt: the Create's answer is cut (the
// forwarder drops the connection once the KMS made acme.crm.key.4), and
// the next rotation is the one rotate-app makes — poll first, follow
// NewestGeneration — which sees key.4, Pre-Active, as the newest. It
// finishes that rotation (activates key.4) instead of creating key.5.
func TestRotationAfterACutCreateFinishesIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, e := cutAtTheNextCreate(t)
	if _, err := e.src.Rotate(ctx, "crm", "acme.crm.key.3"); err == nil {
		t.Fatal("the rotation whose answer was cut worked")
	}
	e.mustPoll() // rotate-app polls first
	after, err := e.src.NewestGeneration("crm")
	if err != nil || after != "acme.crm.key.3" {
		t.Fatalf("the generation the next rotation follows: %q, %v; want acme.crm.key.3 (key.4 is the half-done rotation)", after, err)
	}
	rot, err := e.src.Rotate(ctx, "crm", after)
	if err != nil || rot.Name != "acme.crm.key.4" || !rot.Existed || !rot.Finished {
		t.Fatalf("the next rotation: %+v, %v; want key.4 finished", rot, err)
	}
	admin := b.adminClient(t)
	for name, want := range map[string]int{"acme.crm.key.4": 1, "acme.crm.key.5": 0} {
		if found, err := admin.Locate().WithName(name).Exec(); err != nil || len(found.UniqueIdentifier) != want {
			t.Fatalf("objects named %s: %v, %v; want %d", name, found, err, want)
		}
	}
	e.mustPoll()
	if got := e.encryptsWith("crm"); got != "acme.crm.key.4" {
		t.Fatalf("crm encrypts with %q", got)
	}
}

// TestHalfDoneRotationOnEveryKMS, on the embedded KMS and PyKMIP: a
// Pre-Active key of the ring's next generation name, AES-256, left by a
// daemon killed between Create and Activate, is finished by the next
// rotation; a Pre-Active key of that name keyward would not have made
// (AES-128) is left alone, and both the rotation's start
// (NewestGeneration) and Rotate itself refuse naming it.
func TestHalfDoneRotationOnEveryKMS(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b *backend) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b.create(t, "acme.crm.key.1")
		e := polledCRM(t, b)
		admin := b.adminClient(t)
		usage := kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt
		left, err := admin.Create().AES(256, usage).WithName("acme.crm.key.2").Exec()
		if err != nil {
			t.Fatal(err)
		}
		e.mustPoll()
		after, err := e.src.NewestGeneration("crm")
		if err != nil || after != "acme.crm.key.1" {
			t.Fatalf("after a killed daemon's key.2: %q, %v; want acme.crm.key.1", after, err)
		}
		rot, err := e.src.Rotate(ctx, "crm", after)
		if err != nil || rot.Name != "acme.crm.key.2" || rot.UID != left.UniqueIdentifier || !rot.Finished {
			t.Fatalf("the rotation: %+v, %v; want key.2 (%s) finished", rot, err, left.UniqueIdentifier)
		}
		if found, _ := admin.Locate().WithName("acme.crm.key.3").Exec(); found != nil && len(found.UniqueIdentifier) != 0 {
			t.Fatalf("a key.3 was created: %v", found.UniqueIdentifier)
		}
		e.mustPoll()
		if got := e.encryptsWith("crm"); got != "acme.crm.key.2" {
			t.Fatalf("crm encrypts with %q", got)
		}

		odd, err := admin.Create().AES(128, usage).WithName("acme.crm.key.3").Exec()
		if err != nil {
			t.Fatal(err)
		}
		e.mustPoll()
		_, err = e.src.NewestGeneration("crm")
		_, rerr := e.src.Rotate(ctx, "crm", "acme.crm.key.2")
		for _, err := range []error{err, rerr} {
			if !errors.Is(err, ErrForeignPreActive) {
				t.Fatalf("over an AES-128 Pre-Active key.3: %v; want ErrForeignPreActive", err)
			}
			for _, want := range []string{"acme.crm.key.3", odd.UniqueIdentifier, "AES-128", "AES-256"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("refusal %q does not say %q", err, want)
				}
			}
		}
		e.mustPoll()
		if got := e.encryptsWith("crm"); got != "acme.crm.key.2" {
			t.Fatalf("crm encrypts with %q after the refusals", got)
		}
		for name, want := range map[string]int{"acme.crm.key.3": 1, "acme.crm.key.4": 0} {
			if found, err := admin.Locate().WithName(name).Exec(); err != nil || len(found.UniqueIdentifier) != want {
				t.Fatalf("objects named %s: %v, %v; want %d", name, found, err, want)
			}
		}
		st, err := admin.GetAttributes(odd.UniqueIdentifier, kmip.AttributeNameState).Exec()
		if err != nil || len(st.Attribute) != 1 || st.Attribute[0].AttributeValue != kmip.StatePreActive {
			t.Fatalf("the AES-128 key.3 after the refusals: %+v, %v; want it left Pre-Active", st, err)
		}
	})
}

// cutAtTheNextCreate is the embedded KMS holding crm's key.1–3, reached
// through a forwarder that cuts every connection right after the next
// Create is done, before its answer is sent (polled once).
func cutAtTheNextCreate(t *testing.T) (*backend, *env) {
	var f *forwarder
	var armed atomic.Bool
	b := startEmbedded(t, kms.Options{Apps: crm3,
		AfterCreate: func() {
			if armed.Swap(false) {
				f.cut()
			}
		}})
	f, e := forwarded(t, b)
	e.mustPoll()
	armed.Store(true)
	return b, e
}
