package azure

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// loseAnswers makes the front lose the answers of the requests match
// picks, n times: "500" (the vault does it, a gateway answers 500),
// "drop" (the vault does it, the connection is cut), "unsent" (a 503 from
// a gateway that never passed the request on).
func loseAnswers(t *testing.T, f *front, match func(*http.Request) bool, how ...string) {
	lost := 0
	f.set(func(w http.ResponseWriter, r *http.Request, f *front) bool {
		if !match(r) || lost >= len(how) {
			return false
		}
		lose := how[lost]
		lost++
		if lose != "unsent" {
			f.forward(t, r) // the vault does it; its answer never arrives
		}
		switch lose {
		case "drop":
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Fatal("cannot hijack")
			}
			c, _, _ := hj.Hijack()
			_ = c.Close()
		case "unsent":
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error":{"code":"InternalError","message":"upstream request timed out"}}`)
		}
		return true
	})
}

// A create or upload whose answer is lost after the vault made the key
// (a gateway's 500, a dropped connection) makes one version, not two: the
// SDK's retry of CreateKey or ImportKey made a second version of the new
// key. The connector sends them without the SDK's retries, reads the key
// when the answer is lost, adopts the version the lost call made, and
// tells the administrator; one event, one version in the inventory.
func TestCreateAnswerLostMakesOneVersion(t *testing.T) {
	for _, c := range []struct {
		name   string
		upload bool
		how    []string
		says   string
	}{
		{"create 500", false, []string{"500"}, "keyward found the key it made"},
		{"create drop", false, []string{"drop"}, "keyward found the key it made"},
		{"create unsent then 500", false, []string{"unsent", "500"}, "keyward found the key it made"},
		{"upload 500", true, []string{"500"}, "keyward found the key it made"},
		{"upload drop twice", true, []string{"unsent", "drop"}, "keyward found the key it made"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, f := newHostile(t, 0)
			e.mustSync()
			m := cloud.NewManager(e.st, newKEK(t), e.src)
			const name = "lost-answer"
			loseAnswers(t, f, func(r *http.Request) bool {
				if c.upload {
					return r.Method == http.MethodPut && r.URL.Path == "/keys/"+name
				}
				return r.Method == http.MethodPost && r.URL.Path == "/keys/"+name+"/create"
			}, c.how...)
			var res *cloud.KeyResult
			var err error
			if c.upload {
				res, err = m.Upload(e.ctx, alice, "vault1", cloud.UploadRequest{CreateRequest: cloud.CreateRequest{Name: name, Type: "EC", Curve: "P-256"}})
			} else {
				res, err = m.Create(e.ctx, alice, "vault1", cloud.CreateRequest{Name: name, Type: "EC", Curve: "P-256"})
			}
			if err != nil {
				t.Fatalf("%s whose answer was lost: %v", c.name, err)
			}
			vs, err := e.conn.Versions(e.ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 {
				t.Errorf("the vault holds %d versions after one %s, want 1", len(vs), c.name)
			}
			if !strings.Contains(res.Event.Details, c.says) || !strings.Contains(res.Recovered, c.says) || !strings.Contains(res.Recovered, vs[0].Version) {
				t.Errorf("the administrator is told %q (recovered %q), want %q and version %s", res.Event.Details, res.Recovered, c.says, vs[0].Version)
			}
			op := engine.OpCreated
			if c.upload {
				op = engine.OpUploaded
			}
			if n := countOps(e.events(engine.OriginKeyward), op); n != 1 {
				t.Errorf("%d %s events recorded, want 1", n, op)
			}
			if rows := byName(e.rows())[name]; len(rows) != 1 {
				t.Errorf("the inventory holds %d rows of %s, want 1", len(rows), name)
			}
		})
	}
}

// A delete whose answer is lost after the vault soft-deleted the key was
// sent again by the SDK, and the vault answered 404 (the key is deleted)
// or 409 (its deletion is under way): keyward reported a failure for a
// key that was deleted. The connector reads the deleted key back and
// records the delete once.
func TestDeleteAnswerLostIsDone(t *testing.T) {
	for _, how := range [][]string{{"500"}, {"drop"}, {"unsent", "500"}} {
		t.Run(strings.Join(how, " then "), func(t *testing.T) {
			e, f := newHostile(t, 1)
			e.mustSync()
			m := cloud.NewManager(e.st, newKEK(t), e.src)
			loseAnswers(t, f, func(r *http.Request) bool {
				return r.Method == http.MethodDelete && r.URL.Path == "/keys/kaa"
			}, how...)
			res, err := m.Delete(e.ctx, alice, "vault1", "kaa", "kaa")
			if err != nil {
				t.Fatalf("delete whose answer was lost: %v", err)
			}
			if !strings.Contains(res.Recovered, "keyward found the key deleted") {
				t.Errorf("recovered note %q", res.Recovered)
			}
			if n := countOps(e.events(engine.OriginKeyward), engine.OpDeleted); n != 1 {
				t.Errorf("%d delete events recorded, want 1", n)
			}
			if s := e.states(); s[engine.StateDeleted] != 1 {
				t.Errorf("inventory after the delete: %v", s)
			}
			if res.Keys[0].PurgeAt == nil {
				t.Errorf("the deleted key has no purge date: %+v", res.Keys[0])
			}
		})
	}
}

// A recover or purge whose answer is lost after the vault did it was sent
// again by the SDK and answered 404 (the deleted key is no longer
// there): a failure for a key that was recovered or purged. keyward reads
// the key and records the operation once.
func TestRecoverPurgeAnswerLostIsDone(t *testing.T) {
	for _, c := range []struct {
		op, method, path string
		want             engine.State
	}{
		{"recover", http.MethodPost, "/deletedkeys/kaa/recover", engine.StateActive},
		{"purge", http.MethodDelete, "/deletedkeys/kaa", engine.StatePurged},
	} {
		t.Run(c.op, func(t *testing.T) {
			e, f := newHostile(t, 1)
			e.mustSync()
			m := cloud.NewManager(e.st, newKEK(t), e.src)
			if _, err := m.Delete(e.ctx, alice, "vault1", "kaa", "kaa"); err != nil {
				t.Fatal(err)
			}
			loseAnswers(t, f, func(r *http.Request) bool { return r.Method == c.method && r.URL.Path == c.path }, "500")
			var err error
			var res *cloud.KeyResult
			if c.op == "recover" {
				res, err = m.Recover(e.ctx, alice, "vault1", "kaa")
			} else {
				_, err = m.Purge(e.ctx, alice, "vault1", "kaa", "kaa")
			}
			if err != nil {
				t.Fatalf("%s whose answer was lost: %v", c.op, err)
			}
			if c.op == "recover" && !strings.Contains(res.Recovered, "keyward found the key recovered") {
				t.Errorf("recover: the administrator is told %q", res.Recovered)
			}
			op := map[string]string{"recover": engine.OpRecovered, "purge": engine.OpPurged}[c.op]
			if n := countOps(e.events(engine.OriginKeyward), op); n != 1 {
				t.Errorf("%d %s events recorded, want 1", n, op)
			}
			if s := e.states(); s[c.want] != 1 {
				t.Errorf("inventory after the %s: %v", c.op, s)
			}
		})
	}
}
