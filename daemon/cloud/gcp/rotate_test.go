package gcp

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
)

// versionStates is "id:STATE" of every version of a key, and its primary.
func versionStates(t *testing.T, p *Project, name string) (string, string) {
	t.Helper()
	vs, err := p.Versions(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	var b []string
	primary := ""
	for _, v := range vs {
		st := "enabled"
		if !v.Enabled {
			st = "disabled"
		}
		b = append(b, v.Version+":"+st)
		if v.Tags[TagPrimary] == "true" {
			primary = v.Version
		}
	}
	return strings.Join(b, " "), primary
}

// TestRotateResumesAfterFault: a rotation cut between its two calls
// (create a version, make it primary) leaves a version that is not
// primary; the retry adopts it instead of making another, and a fault
// after both calls (removing the intent label) does not rotate again.
func TestRotateResumesAfterFault(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	const k = "europe-west1/ring/k"
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct", Tags: map[string]string{"owner": "crm"}}); err != nil {
		t.Fatal(err)
	}

	fake.FailAfter("UpdateCryptoKeyPrimaryVersion", 0)
	if _, err := p.Rotate(ctx, k); err == nil || !strings.Contains(err.Error(), "make version 2 primary") {
		t.Fatalf("rotate with the second call failing: %v", err)
	}
	if got, primary := versionStates(t, p, k); got != "1:enabled 2:enabled" || primary != "1" {
		t.Fatalf("after the fault: versions %s, primary %s", got, primary)
	}
	kv, err := p.Rotate(ctx, k)
	if err != nil || kv.Version != "2" || kv.Tags[TagPrimary] != "true" {
		t.Fatalf("retry: %+v %v", kv, err)
	}
	if got, _ := versionStates(t, p, k); got != "1:enabled 2:enabled" {
		t.Fatalf("the retry made another version: %s", got)
	}
	if _, ok := kv.Tags[labelRotating]; ok || kv.Tags["owner"] != "crm" {
		t.Fatalf("labels after the rotation: %v", kv.Tags)
	}

	// Both calls done, the label's removal lost: the retry finishes
	// the removal and makes no version.
	fake.FailAfter("UpdateCryptoKey", 1) // the intent is written, its removal fails
	if _, err := p.Rotate(ctx, k); err == nil || !strings.Contains(err.Error(), "version 3 is the primary, but removing the label") {
		t.Fatalf("rotate with the label's removal failing: %v", err)
	}
	fake.ResetCalls()
	kv, err = p.Rotate(ctx, k)
	if err != nil || kv.Version != "3" || fake.Calls()["CreateCryptoKeyVersion"] != 0 {
		t.Fatalf("retry after the primary changed: %+v %v (%d versions made)", kv, err, fake.Calls()["CreateCryptoKeyVersion"])
	}
	if _, ok := kv.Tags[labelRotating]; ok {
		t.Fatalf("the retry left the label: %v", kv.Tags)
	}

	// A version an administrator demoted (primary set back to an older
	// one) is not an interrupted rotation's: rotate makes a new one.
	if _, err := p.Update(ctx, k, "2", cloud.Update{Tags: map[string]string{TagPrimary: "true"}}); err != nil {
		t.Fatal(err)
	}
	kv, err = p.Rotate(ctx, k)
	if err != nil || kv.Version != "4" {
		t.Fatalf("rotate after a roll-back: %+v %v", kv, err)
	}
}

// TestRotateRetryThroughManager: the Manager's rotate, retried after the
// fault as an administrator (or a schedule's resume) does, records one
// rotation to the adopted version.
func TestRotateRetryThroughManager(t *testing.T) {
	ctx := context.Background()
	fake, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	src := cloud.NewSyncSource("gcp-test", p, time.Hour, nil)
	src.Attach(cloudtest.Discard{})
	m := cloud.NewManager(nil, nil, src)
	if _, err := m.Create(ctx, cloud.Caller{User: "alice"}, "gcp-test", cloud.CreateRequest{Name: "k", Type: "oct", Tags: map[string]string{TagKeyRing: "europe-west1/ring"}}); err != nil {
		t.Fatal(err)
	}
	fake.FailAfter("UpdateCryptoKeyPrimaryVersion", 0)
	if _, err := m.Rotate(ctx, cloud.Caller{User: "alice"}, "gcp-test", "europe-west1/ring/k"); err == nil {
		t.Fatal("the fault did not show")
	}
	res, err := m.Rotate(ctx, cloud.Caller{User: "alice"}, "gcp-test", "europe-west1/ring/k")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Event.Details, "new version 2") {
		t.Fatalf("event %q", res.Event.Details)
	}
	if got, primary := versionStates(t, p, "europe-west1/ring/k"); got != "1:enabled 2:enabled" || primary != "2" {
		t.Fatalf("versions %s, primary %s", got, primary)
	}
}
