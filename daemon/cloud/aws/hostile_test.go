package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// awsFront stands between keyward's SDK client and local-kms and answers
// as a broken or hostile AWS endpoint would: answer sees each request's
// X-Amz-Target and body, and may pass it on (forward) and change what
// comes back.
type awsFront struct {
	URL string
	lk  *LocalKMS

	mu       sync.Mutex
	answer   func(target string, body []byte, forward func() (int, []byte)) (int, []byte)
	requests map[string]int
}

func startAWSFront(t *testing.T, lk *LocalKMS) *awsFront {
	t.Helper()
	f := &awsFront{lk: lk, requests: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
		body, _ := io.ReadAll(r.Body)
		forward := func() (int, []byte) {
			req, _ := http.NewRequestWithContext(r.Context(), r.Method, lk.URL+r.URL.RequestURI(), bytes.NewReader(body))
			req.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return http.StatusBadGateway, []byte(err.Error())
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, b
		}
		f.mu.Lock()
		f.requests[target]++
		answer := f.answer
		f.mu.Unlock()
		status, out := 0, []byte(nil)
		if answer != nil {
			status, out = answer(target, body, forward)
		}
		if status == 0 {
			status, out = forward()
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *awsFront) set(a func(target string, body []byte, forward func() (int, []byte)) (int, []byte)) {
	f.mu.Lock()
	f.answer, f.requests = a, map[string]int{}
	f.mu.Unlock()
}

func (f *awsFront) count(target string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[target]
}

// hostileAccount is a sync source over local-kms behind a front, with
// keys made there.
func hostileAccount(t *testing.T, keys int) (*LocalKMS, *awsFront, *cloud.SyncSource, *cloudtest.StoreSink) {
	t.Helper()
	lk := StartLocalKMS(t)
	ctx := context.Background()
	for range keys {
		if _, err := lk.Client().CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
			t.Fatal(err)
		}
	}
	f := startAWSFront(t, lk)
	src, sink := frontSource(t, lk, f, storetest.New(t))
	return lk, f, src, sink
}

// frontSource is a sync source aws-hostile over local-kms behind f (a
// connector of its own, as a daemon started again has), recording into st.
func frontSource(t *testing.T, lk *LocalKMS, f *awsFront, st *store.Store) (*cloud.SyncSource, *cloudtest.StoreSink) {
	t.Helper()
	s := LocalSettings(t, lk, "aws-hostile")
	s.Endpoint = f.URL
	a, err := New(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := cloud.NewSyncSource("aws-hostile", a, time.Hour, nil)
	return src, cloudtest.Attach(t, st, src)
}

func activeKeys(t *testing.T, sink *cloudtest.StoreSink) map[engine.State]int {
	t.Helper()
	keys, err := sink.Known(context.Background(), "aws-hostile")
	if err != nil {
		t.Fatal(err)
	}
	out := map[engine.State]int{}
	for _, k := range keys {
		out[k.State]++
	}
	return out
}

// A listing whose next marker leads back to a page it already gave, or
// that gives empty pages without end, fails the sync as a bad answer that
// says so, after a bounded number of requests (the SDK's paginator would
// follow it for ever), and the inventory stays as the last good sync
// left it. Aliases (listed first) and keys alike.
func TestListingThatLoopsBackFails(t *testing.T) {
	lk, f, src, sink := hostileAccount(t, 6)
	lk.KeyPages(2, nil)
	ctx := context.Background()
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	loop := func(list string) func(target string, body []byte, forward func() (int, []byte)) (int, []byte) {
		first := ""
		return func(target string, body []byte, forward func() (int, []byte)) (int, []byte) {
			if target != list {
				return 0, nil
			}
			var in struct{ Marker string }
			_ = json.Unmarshal(body, &in)
			status, out := forward()
			var page map[string]any
			if status != http.StatusOK || json.Unmarshal(out, &page) != nil {
				return status, out
			}
			if first == "" {
				first, _ = page["NextMarker"].(string)
			}
			if page["Truncated"] == false {
				// The last page names the second as the next.
				page["Truncated"], page["NextMarker"] = true, first
			}
			out, _ = json.Marshal(page)
			return status, out
		}
	}
	empty := func(list, field string) func(target string, body []byte, forward func() (int, []byte)) (int, []byte) {
		n := 0
		return func(target string, _ []byte, _ func() (int, []byte)) (int, []byte) {
			if target != list {
				return 0, nil
			}
			n++
			return http.StatusOK, fmt.Appendf(nil, `{%q:[],"Truncated":true,"NextMarker":"marker-%d"}`, field, n)
		}
	}
	for _, c := range []struct {
		name, list, says string
		answer           func(target string, body []byte, forward func() (int, []byte)) (int, []byte)
	}{
		{"keys loop", "ListKeys", "paging loop", loop("ListKeys")},
		{"empty key pages", "ListKeys", "empty pages", empty("ListKeys", "Keys")},
		{"empty alias pages", "ListAliases", "empty pages", empty("ListAliases", "Aliases")},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.set(c.answer)
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			err := src.SyncNow(ctx)
			if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("sync: %v, want a bad answer saying %q", err, c.says)
			}
			if n := f.count(c.list); n > cloud.MaxEmptyPages+2 {
				t.Errorf("the listing cost %d %s requests", n, c.list)
			}
			if s := activeKeys(t, sink); s[engine.StateActive] != 6 || len(s) != 1 {
				t.Errorf("inventory after the failed sync: %v, want 6 active keys", s)
			}
			f.set(nil)
			if err := src.SyncNow(context.Background()); err != nil {
				t.Errorf("sync once AWS answers well again: %v", err)
			}
		})
	}
}

// A life-cycle request whose answer is lost after AWS did it (a 500 from
// KMS or a gateway) is not sent again blindly, as the SDK's retryer
// would: a second RotateKeyOnDemand rotated again (or, with AWS's
// asynchronous rotation, was refused as a conflict although the first
// was under way), a second ScheduleKeyDeletion or CancelKeyDeletion was
// refused for the state the first left. The connector reads the key,
// finds the request took effect and answers as if the answer had come;
// the operation is recorded once.
func TestLifecycleAnswerLostIsNotDoneTwice(t *testing.T) {
	for _, c := range []struct{ name, target, op string }{
		{"rotate", "RotateKeyOnDemand", "rotate"},
		{"rotate async", "RotateKeyOnDemand", "rotate"},
		{"rotate throttled", "RotateKeyOnDemand", "rotate"}, // refused, not lost: sent again
		{"delete", "ScheduleKeyDeletion", "delete"},
		{"recover", "CancelKeyDeletion", "recover"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lk, f, src, _ := hostileAccount(t, 1)
			ctx := context.Background()
			if c.name == "rotate async" {
				lk.SetAsyncRotation(nil)
			}
			if err := src.SyncNow(ctx); err != nil {
				t.Fatal(err)
			}
			id := firstKeyID(t, lk)
			m := cloud.NewManager(nil, nil, src)
			alice := cloud.Caller{UID: 1001, User: "alice"}
			if c.op == "recover" {
				if _, err := m.Delete(ctx, alice, "aws-hostile", id, id); err != nil {
					t.Fatal(err)
				}
			}
			lost := 0
			f.set(func(target string, _ []byte, forward func() (int, []byte)) (int, []byte) {
				if target != c.target || lost > 0 {
					return 0, nil
				}
				lost++
				if c.name == "rotate throttled" {
					return http.StatusBadRequest, []byte(`{"__type":"ThrottlingException","message":"Rate exceeded"}`)
				}
				forward() // AWS does it; its answer never arrives
				return http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"internal failure"}`)
			})
			var res *cloud.KeyResult
			var err error
			switch c.op {
			case "rotate":
				res, err = m.Rotate(ctx, alice, "aws-hostile", id)
			case "delete":
				res, err = m.Delete(ctx, alice, "aws-hostile", id, id)
			case "recover":
				res, err = m.Recover(ctx, alice, "aws-hostile", id)
			}
			if err != nil {
				t.Fatalf("%s whose answer was lost: %v", c.op, err)
			}
			want := 1
			if c.name == "rotate throttled" {
				want = 2
			}
			if n := f.count(c.target); n != want {
				t.Errorf("%s sent %d times, want %d", c.target, n, want)
			}
			if c.name == "rotate async" {
				// Asked again while AWS still rotates: a conflict, said so.
				if _, err := m.Rotate(ctx, alice, "aws-hostile", id); !errors.Is(err, cloud.ErrConflict) || !strings.Contains(err.Error(), "under way") {
					t.Errorf("rotate while a rotation is under way: %v", err)
				}
			}
			if c.op == "rotate" {
				lk.CompleteRotations()
				if n := lk.Rotations(id); n != 1 {
					t.Errorf("the key rotated %d times, want once", n)
				}
			}
			if res.Event == nil {
				t.Fatal("no event recorded")
			}
			if found := strings.Contains(res.Recovered, "was lost; keyward found"); found != (c.name != "rotate throttled") {
				t.Errorf("the administrator is told %q", res.Recovered)
			}
			state := lk.Described(t, id).KeyState
			if pending := state == "PendingDeletion"; pending != (c.op == "delete") {
				t.Errorf("after %s the key is %s", c.op, state)
			}
		})
	}
}

func firstKeyID(t *testing.T, lk *LocalKMS) string {
	t.Helper()
	out, err := lk.Client().ListKeys(context.Background(), &kms.ListKeysInput{})
	if err != nil || len(out.Keys) == 0 {
		t.Fatalf("list keys: %v", err)
	}
	return *out.Keys[0].KeyId
}

// Answers AWS may send that the SDK or keyward do not expect: a key state
// and a key spec newer than the SDK's enums, a clock 10 minutes ahead
// (a key created in our future), credentials that expire in the middle of
// a sync, a body that is not JSON. The sync keeps the key and shows what
// AWS said, or fails with a reason that says what to do and writes
// nothing; the next good answer syncs again.
func TestSurprisingAnswers(t *testing.T) {
	lk, f, src, sink := hostileAccount(t, 3)
	ctx := context.Background()
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	ahead := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	f.set(func(target string, _ []byte, forward func() (int, []byte)) (int, []byte) {
		if target != "DescribeKey" {
			return 0, nil
		}
		status, out := forward()
		var d map[string]map[string]any
		if status != http.StatusOK || json.Unmarshal(out, &d) != nil {
			return status, out
		}
		d["KeyMetadata"]["KeyState"] = "Quarantined"
		d["KeyMetadata"]["KeySpec"] = "ML_KEM_9000"
		d["KeyMetadata"]["CreationDate"] = float64(ahead.Unix())
		out, _ = json.Marshal(d)
		return status, out
	})
	// A daemon started now (its connector describes every key).
	src2, sink2 := frontSource(t, lk, f, sink.St)
	if err := src2.SyncNow(ctx); err != nil {
		t.Fatalf("sync with an unknown state, spec and a clock ahead: %v", err)
	}
	keys, err := sink2.Known(ctx, "aws-hostile")
	if len(keys) != 3 {
		t.Errorf("%d keys in the inventory, want 3", len(keys))
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.State == engine.StatePurged || k.State == engine.StateDeleted || k.Tags[TagState] != "Quarantined" || k.Tags[TagSpec] != "ML_KEM_9000" {
			t.Errorf("key %s in an unknown state: %s, tags %v", k.Name, k.State, k.Tags)
		}
		if k.Created == nil || !k.Created.Equal(ahead) {
			t.Errorf("key %s created %v, want AWS's date %v", k.Name, k.Created, ahead)
		}
	}

	before := activeKeys(t, sink)
	n := 0
	f.set(func(target string, _ []byte, _ func() (int, []byte)) (int, []byte) {
		if n++; n < 2 { // ListAliases answers; ListKeys finds the session expired
			return 0, nil
		}
		return http.StatusBadRequest, []byte(`{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}`)
	})
	err = src2.SyncNow(ctx)
	if !errors.Is(err, cloud.ErrCredential) || !strings.Contains(err.Error(), "session credentials have expired") {
		t.Errorf("credentials expired mid-sync: %v", err)
	}
	if after := activeKeys(t, sink); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("the failed sync changed the inventory: %v → %v", before, after)
	}
	f.set(func(target string, _ []byte, _ func() (int, []byte)) (int, []byte) {
		if target != "ListKeys" {
			return 0, nil
		}
		return http.StatusOK, []byte(`<html><body>502 Bad Gateway</body></html>`)
	})
	err = src2.SyncNow(ctx)
	if !errors.Is(err, cloud.ErrBadAnswer) {
		t.Errorf("a ListKeys answer that is not JSON: %v", err)
	}
	f.set(func(target string, _ []byte, _ func() (int, []byte)) (int, []byte) {
		if target != "ListKeys" {
			return 0, nil
		}
		return http.StatusOK, []byte(`{"Keys":{"KeyId":5},"Truncated":"yes"}`)
	})
	err = src2.SyncNow(ctx)
	if !errors.Is(err, cloud.ErrBadAnswer) {
		t.Errorf("a ListKeys answer of the wrong shape: %v", err)
	}
	f.set(nil)
	if err := src2.SyncNow(ctx); err != nil {
		t.Errorf("sync once AWS answers well again: %v", err)
	}
}
