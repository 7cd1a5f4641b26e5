package aws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	localkms "github.com/nsmithuk/local-kms/src"
	lkconfig "github.com/nsmithuk/local-kms/src/config"
	lkdata "github.com/nsmithuk/local-kms/src/data"
)

// LocalKMS is github.com/nsmithuk/local-kms served in the test process on
// a loopback port: a KMS nobody here wrote, answering the real
// aws-sdk-go-v2 client. Test-only: the production binary never links it.
//
// local-kms lacks RotateKeyOnDemand, rotation periods
// (RotationPeriodInDays) and CurrentKeyMaterialId. A small stand-in in front of
// it answers those, and says so: Stood lists the calls it answered, so
// a test can tell what the emulator did from what the stand-in did.
type LocalKMS struct {
	URL string

	mu      sync.Mutex
	periods map[string]int32    // key ID → rotation period the stand-in remembers
	rotated map[string][]string // key ID → on-demand rotations (times)
	stood   []string
	// accessKeys are the access key IDs requests were signed with.
	accessKeys map[string]int
	// managed are keys the stand-in reports as AWS-managed (local-kms
	// makes none).
	managed map[string]bool
	// Fail, when set, answers every request whose target it returns
	// true for with this AWS error code (403 for access, 400 otherwise).
	fail func(target string) string
}

// Region and Account are local-kms's region and account for every test.
const (
	TestRegion  = "eu-west-1"
	TestAccount = "111122223333"
)

var localKMSOnce sync.Once

// StartLocalKMS starts a local-kms with its own database.
func StartLocalKMS(t testing.TB) *LocalKMS {
	t.Helper()
	localKMSOnce.Do(func() {
		lkconfig.AWSRegion = TestRegion
		lkconfig.AWSAccountId = TestAccount
	})
	db := lkdata.NewDatabase(filepath.Join(t.TempDir(), "local-kms"))
	lk := &LocalKMS{periods: map[string]int32{}, rotated: map[string][]string{}, accessKeys: map[string]int{}, managed: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lk.serve(w, r, db)
	}))
	t.Cleanup(func() { srv.Close(); db.Close() })
	lk.URL = srv.URL
	return lk
}

// SetFail makes requests fail with an AWS error code (nil: stop).
func (lk *LocalKMS) SetFail(f func(target string) string) {
	lk.mu.Lock()
	lk.fail = f
	lk.mu.Unlock()
}

// Stood lists what the stand-in answered in place of local-kms.
func (lk *LocalKMS) Stood() []string {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return append([]string(nil), lk.stood...)
}

// Rotations lists the on-demand rotations of a key.
func (lk *LocalKMS) Rotations(keyID string) int {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	return len(lk.rotated[keyID])
}

func (lk *LocalKMS) serve(w http.ResponseWriter, r *http.Request, db *lkdata.Database) {
	target := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	body, _ := io.ReadAll(r.Body)
	var in struct {
		KeyId                string
		RotationPeriodInDays *int32
	}
	_ = json.Unmarshal(body, &in)
	keyID := in.KeyId[strings.LastIndex(in.KeyId, "/")+1:]
	lk.mu.Lock()
	fail := lk.fail
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		akid, _, _ := strings.Cut(cred, "/")
		lk.accessKeys[akid]++
	}
	lk.mu.Unlock()
	if fail != nil {
		if code := fail(target); code != "" {
			status := http.StatusBadRequest
			if code == "AccessDeniedException" {
				status = http.StatusForbidden
			}
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"__type":%q,"message":"stand-in failure"}`, code)
			return
		}
	}
	forward := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		localkms.HandleRequest(rec, r2, db)
		return rec
	}
	copyOut := func(rec *httptest.ResponseRecorder, b []byte) {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(b)
	}
	switch target {
	case "RotateKeyOnDemand":
		// Stand-in: local-kms has no RotateKeyOnDemand. The key must
		// exist and be enabled, as in AWS; DescribeKey through local-kms
		// tells.
		r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
		rec := forward()
		var d struct {
			KeyMetadata struct{ KeyId, KeyState string }
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			copyOut(rec, rec.Body.Bytes())
			return
		}
		if d.KeyMetadata.KeyState != "Enabled" {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"KMSInvalidStateException","message":"%s is %s"}`, d.KeyMetadata.KeyId, d.KeyMetadata.KeyState)
			return
		}
		lk.mu.Lock()
		lk.stood = append(lk.stood, "RotateKeyOnDemand")
		lk.rotated[d.KeyMetadata.KeyId] = append(lk.rotated[d.KeyMetadata.KeyId], time.Now().UTC().Format(time.RFC3339))
		lk.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"KeyId":%q}`, d.KeyMetadata.KeyId)
	case "GetParametersForImport":
		// Stand-in: local-kms wraps only for RSA_2048 keys; keyward asks
		// for RSA_4096 as AWS recommends. Ask local-kms for what it has.
		var m map[string]any
		if json.Unmarshal(body, &m) == nil && m["WrappingKeySpec"] == "RSA_4096" {
			m["WrappingKeySpec"] = "RSA_2048"
			body, _ = json.Marshal(m)
			lk.mu.Lock()
			lk.stood = append(lk.stood, "WrappingKeySpec RSA_4096→RSA_2048")
			lk.mu.Unlock()
		}
		rec := forward()
		copyOut(rec, rec.Body.Bytes())
	case "EnableKeyRotation":
		rec := forward()
		if rec.Code == http.StatusOK && in.RotationPeriodInDays != nil {
			// Stand-in: local-kms ignores the period; remember it.
			lk.mu.Lock()
			lk.stood = append(lk.stood, "RotationPeriodInDays")
			lk.periods[keyID] = *in.RotationPeriodInDays
			lk.mu.Unlock()
		}
		copyOut(rec, rec.Body.Bytes())
	case "GetKeyRotationStatus":
		rec := forward()
		var out map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &out) == nil && out["KeyRotationEnabled"] == true {
			// Stand-in: add the period local-kms does not keep.
			lk.mu.Lock()
			p, ok := lk.periods[keyID]
			lk.mu.Unlock()
			if !ok {
				p = 365
			}
			out["RotationPeriodInDays"] = p
			b, _ := json.Marshal(out)
			copyOut(rec, b)
			return
		}
		copyOut(rec, rec.Body.Bytes())
	case "DescribeKey":
		rec := forward()
		var out map[string]map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &out) == nil && out["KeyMetadata"] != nil {
			id := fmt.Sprint(out["KeyMetadata"]["KeyId"])
			lk.mu.Lock()
			managed, rotations := lk.managed[id], len(lk.rotated[id])
			lk.mu.Unlock()
			if managed {
				out["KeyMetadata"]["KeyManager"] = "AWS"
			}
			if out["KeyMetadata"]["Origin"] == "AWS_KMS" && out["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT" {
				// Stand-in: local-kms has no CurrentKeyMaterialId; one
				// per on-demand rotation the stand-in made.
				out["KeyMetadata"]["CurrentKeyMaterialId"] = fmt.Sprintf("%064x", rotations+1)
			}
			b, _ := json.Marshal(out)
			copyOut(rec, b)
			return
		}
		copyOut(rec, rec.Body.Bytes())
	default:
		rec := forward()
		copyOut(rec, rec.Body.Bytes())
	}
}

// MarkAWSManaged makes the stand-in report a key as AWS-managed.
func (lk *LocalKMS) MarkAWSManaged(keyID string) {
	lk.mu.Lock()
	lk.managed[keyID] = true
	lk.mu.Unlock()
}

// AccessKeys counts requests by the access key ID that signed them.
func (lk *LocalKMS) AccessKeys() map[string]int {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	out := map[string]int{}
	for k, v := range lk.accessKeys {
		out[k] = v
	}
	return out
}

// WriteStaticKeys writes a static_keys_file (local-kms checks no
// signature; the SDK still signs every request with these).
func WriteStaticKeys(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "aws-keys")
	if err := os.WriteFile(p, []byte("aws_access_key_id = AKIATESTKEYWARD\naws_secret_access_key = test-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// LocalSettings is an [[aws]] section pointed at lk.
func LocalSettings(t testing.TB, lk *LocalKMS, name string) Settings {
	return Settings{Name: name, Region: TestRegion, StaticKeysFile: WriteStaticKeys(t, t.TempDir()), Endpoint: lk.URL, RequestsPerSecond: 10000}
}
