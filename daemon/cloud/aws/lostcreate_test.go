package aws

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
)

// A create or upload whose answer is lost after AWS did the work (a 500
// from KMS or a gateway, a dropped connection) makes one key, not two:
// the SDK's retryer sent CreateKey again, and the first key stayed behind
// as an orphan nobody rotates, with no alias, costing money; a lost
// CreateAlias answer was retried into AlreadyExists, and keyward scheduled
// the key it had just made for deletion and reported a failure. keyward
// marks each CreateKey with a request tag, finds the key the lost call
// made by it, and tells the administrator so; the inventory holds the one
// key and the activity one event.
func TestCreateAnswerLostMakesOneKey(t *testing.T) {
	material := bytes.Repeat([]byte{0x5a}, 32)
	for _, c := range []struct {
		name, target string
		upload       bool
		// before: the first request is refused with a 500 that AWS never
		// acted on, and the next one is done and its answer lost.
		before bool
		says   string
	}{
		{"create", "CreateKey", false, false, "keyward found the key it made"},
		{"create lost before and after", "CreateKey", false, true, "keyward found the key it made"},
		{"create alias", "CreateAlias", false, false, "already names the key"},
		{"upload", "CreateKey", true, false, "keyward found the key it made"},
		{"upload lost before and after", "CreateKey", true, true, "keyward found the key it made"},
		{"upload import", "ImportKeyMaterial", true, false, "the material is in"},
		{"upload alias", "CreateAlias", true, false, "already names the key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lk, f, src, sink := hostileAccount(t, 0)
			ctx := context.Background()
			if err := src.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			m := cloud.NewManager(nil, nil, src)
			alice := cloud.Caller{UID: 1001, User: "alice"}
			name := strings.ReplaceAll(c.name, " ", "-")
			seen := 0
			f.set(func(target string, _ []byte, forward func() (int, []byte)) (int, []byte) {
				if target != c.target || seen > 1 || (seen > 0 && !c.before) {
					return 0, nil
				}
				seen++
				if c.before && seen == 1 {
					return http.StatusServiceUnavailable, []byte(`{"__type":"KMSInternalException","message":"internal failure"}`)
				}
				forward() // AWS does it; its answer never arrives
				return http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"internal failure"}`)
			})
			var res *cloud.KeyResult
			var err error
			if c.upload {
				res, err = m.Upload(ctx, alice, "aws-hostile", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: name}, Material: bytes.Clone(material)})
			} else {
				res, err = m.Create(ctx, alice, "aws-hostile", cloud.CreateRequest{Name: name, Type: "oct"})
			}
			if err != nil {
				t.Fatalf("%s whose answer was lost: %v", c.name, err)
			}
			if c.target != "CreateAlias" {
				want := 1
				if c.before {
					want = 2
				}
				if n := f.count(c.target); n != want {
					t.Errorf("%s sent %d times, want %d", c.target, n, want)
				}
			}
			out, err := lk.Client().ListKeys(ctx, &kms.ListKeysInput{})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Keys) != 1 {
				t.Fatalf("AWS holds %d keys after one %s, want 1", len(out.Keys), c.name)
			}
			id := *out.Keys[0].KeyId
			md := lk.Described(t, id)
			if md.KeyState != "Enabled" {
				t.Errorf("the key is %s, want Enabled", md.KeyState)
			}
			if byAlias := lk.Described(t, "alias/"+name); *byAlias.KeyId != id {
				t.Errorf("alias/%s names %s, want %s", name, *byAlias.KeyId, id)
			}
			if res.Event == nil || !strings.Contains(res.Event.Details, "answer") || !strings.Contains(res.Event.Details, c.says) {
				t.Errorf("the administrator is told %+v, want the lost answer and %q", res.Event, c.says)
			}
			if !strings.Contains(res.Recovered, "answer") || !strings.Contains(res.Recovered, id) {
				t.Errorf("result's recovered note %q, want one naming the lost answer and %s", res.Recovered, id)
			}
			keys, err := sink.Known(ctx, "aws-hostile")
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Name != id {
				t.Errorf("inventory %v, want the one key %s", keys, id)
			}
			for k := range keys[0].Tags {
				if strings.Contains(k, "request") {
					t.Errorf("keyward's own create mark shows as a tag: %s", k)
				}
			}
			evs, _, err := sink.St.Events(ctx, store.EventQuery{Source: "aws-hostile", Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			made := 0
			for _, e := range evs {
				if e.Operation == engine.OpCreated || e.Operation == engine.OpUploaded {
					made++
				}
			}
			if made != 1 {
				t.Errorf("%d create/upload events, want 1: %+v", made, evs)
			}
			// A sync finds the same one key and nothing to add.
			if err := src.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			if keys, _ := sink.Known(ctx, "aws-hostile"); len(keys) != 1 {
				t.Errorf("inventory after a sync: %d keys, want 1", len(keys))
			}
		})
	}
}

// A lost CreateKey answer that keyward cannot settle (the listing that
// would find the key fails too) is an error that names the request tag
// the key, if AWS made it, carries: the administrator can find it.
func TestCreateAnswerLostUnsettledNamesTheMark(t *testing.T) {
	lk, f, src, _ := hostileAccount(t, 0)
	ctx := context.Background()
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	m := cloud.NewManager(nil, nil, src)
	f.set(func(target string, _ []byte, forward func() (int, []byte)) (int, []byte) {
		switch target {
		case "CreateKey":
			forward()
			fallthrough
		case "ListKeys":
			return http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"internal failure"}`)
		}
		return 0, nil
	})
	_, err := m.Create(ctx, cloud.Caller{User: "alice"}, "aws-hostile", cloud.CreateRequest{Name: "unsettled", Type: "oct"})
	if err == nil {
		t.Fatal("create whose answer and search were lost: no error")
	}
	out, lerr := lk.Client().ListKeys(ctx, &kms.ListKeysInput{})
	if lerr != nil || len(out.Keys) != 1 {
		t.Fatalf("AWS holds %v keys (%v), want the one the lost call made", out, lerr)
	}
	tags, terr := lk.Client().ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: out.Keys[0].KeyId})
	if terr != nil {
		t.Fatal(terr)
	}
	mark := ""
	for _, tg := range tags.Tags {
		if *tg.TagKey == TagCreateRequest {
			mark = *tg.TagValue
		}
	}
	if mark == "" || !strings.Contains(err.Error(), TagCreateRequest+"="+mark) {
		t.Errorf("error %q does not name the key's mark %s=%s", err, TagCreateRequest, mark)
	}
	if n := f.count("CreateKey"); n != 1 {
		t.Errorf("CreateKey sent %d times with its outcome unknown, want 1", n)
	}
}
