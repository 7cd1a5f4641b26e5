package gcp

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/proto"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// A create or upload whose answer is lost after Google did the work is
// done once and reported as done: Google's client sent CreateCryptoKey
// and CreateImportJob again and Google answered AlreadyExists, which
// keyward reported as a failure; a lost ImportCryptoKeyVersion (which the
// client does not retry) was reported as "upload again", and doing so
// imported a second version. keyward reads back what the lost call made
// (the key, compared with what was asked; the version made with this
// upload's own import job) and tells the administrator so; the inventory
// holds what exists and the activity one event.
func TestCreateAnswerLostIsDoneOnce(t *testing.T) {
	material := bytes.Repeat([]byte{0x3c}, 32)
	for _, c := range []struct {
		name, rpc string
		times     int
		upload    bool
		existing  bool   // the key exists before the upload (a second version)
		versions  string // the key's versions after it
		says      string
	}{
		{"create", "CreateCryptoKey", 1, false, false, "1:enabled", "keyward found the key it made"},
		{"create lost twice", "CreateCryptoKey", 2, false, false, "1:enabled", "keyward found the key it made"},
		{"upload new key", "CreateCryptoKey", 1, true, false, "1:enabled", "keyward found the key it made"},
		{"upload import job", "CreateImportJob", 1, true, false, "1:enabled", "keyward found the import job it made"},
		{"upload version", "ImportCryptoKeyVersion", 1, true, false, "1:enabled", "keyward found the version it imported"},
		{"upload version lost twice", "ImportCryptoKeyVersion", 2, true, false, "1:enabled", "keyward found the version it imported"},
		{"upload second version", "ImportCryptoKeyVersion", 1, true, true, "1:enabled 2:enabled", "keyward found the version it imported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			_, p, l := startLoser(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
			p.importWait = 10 * time.Millisecond
			src := cloud.NewViewSource("gcp-test", p, time.Hour, nil)
			sink := cloudtest.Attach(t, storetest.New(t), src)
			m := cloud.NewManager(nil, nil, src)
			alice := cloud.Caller{UID: 1001, User: "alice"}
			const name = "k"
			const full = "europe-west1/ring/" + name
			up := func() (*cloud.KeyResult, error) {
				return m.Upload(ctx, alice, "gcp-test", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: name}, Material: bytes.Clone(material)})
			}
			if c.existing {
				if _, err := up(); err != nil {
					t.Fatal(err)
				}
			}
			if err := src.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			l.loseTimes(c.rpc, c.times)
			var res *cloud.KeyResult
			var err error
			if c.upload {
				res, err = up()
			} else {
				res, err = m.Create(ctx, alice, "gcp-test", cloud.CreateRequest{Name: name, Type: "oct"})
			}
			if err != nil {
				t.Fatalf("%s whose answer was lost: %v", c.name, err)
			}
			if got, _ := versionStates(t, p, full); got != c.versions {
				t.Errorf("versions %s, want %s", got, c.versions)
			}
			if res.Event == nil || !strings.Contains(res.Event.Details, "answer") || !strings.Contains(res.Event.Details, c.says) {
				t.Errorf("the administrator is told %+v, want the lost answer and %q", res.Event, c.says)
			}
			if !strings.Contains(res.Recovered, c.says) {
				t.Errorf("result's recovered note %q, want %q", res.Recovered, c.says)
			}
			keys, err := sink.Known(ctx, "gcp-test")
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Count(c.versions, ":"); len(keys) != want {
				t.Errorf("inventory holds %d rows, want %d", len(keys), want)
			}
			evs, _, err := sink.St.Events(ctx, store.EventQuery{Source: "gcp-test", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			made, want := 0, 1
			if c.existing {
				want = 2
			}
			for _, e := range evs {
				if e.Operation == engine.OpCreated || e.Operation == engine.OpUploaded {
					made++
				}
			}
			if made != want {
				t.Errorf("%d create/upload events, want %d: %+v", made, want, evs)
			}
		})
	}
}

// A create whose lost call finds a key of that name that is not what was
// asked (another administrator made it meanwhile, with another purpose)
// is refused with what exists, not taken for keyward's own.
func TestCreateAnswerLostFindsAnotherKey(t *testing.T) {
	ctx := context.Background()
	_, p, l := startLoser(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	l.loseTimes("CreateCryptoKey", 1)
	l.swap = func(req any) any {
		r := proto.Clone(req.(*kmspb.CreateCryptoKeyRequest)).(*kmspb.CreateCryptoKeyRequest)
		r.CryptoKey.Purpose = kmspb.CryptoKey_ASYMMETRIC_SIGN
		r.CryptoKey.VersionTemplate.Algorithm = kmspb.CryptoKeyVersion_EC_SIGN_P256_SHA256
		return r
	}
	_, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"})
	if err == nil {
		t.Fatal("create that finds another key of its name: no error")
	}
	for _, want := range []string{"ASYMMETRIC_SIGN", "EC_SIGN_P256_SHA256", "GOOGLE_SYMMETRIC_ENCRYPTION"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
}
