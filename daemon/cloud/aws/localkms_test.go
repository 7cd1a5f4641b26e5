package aws

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
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

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	localkms "github.com/nsmithuk/local-kms/src"
	"github.com/nsmithuk/local-kms/src/cmk"
	lkconfig "github.com/nsmithuk/local-kms/src/config"
	lkdata "github.com/nsmithuk/local-kms/src/data"
	"github.com/tink-crypto/tink-go/v2/kwp/subtle"
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
	// external are asymmetric keys of origin EXTERNAL: local-kms imports
	// only symmetric material, so the stand-in keeps their import state
	// and, once material is imported, puts it into local-kms's own key,
	// which then signs and encrypts with it.
	external map[string]*externalKey
	// wrapping is what keyward last asked GetParametersForImport to wrap
	// with, by key ID.
	wrapping map[string]string
	// auto are automatic rotations the test says AWS made, by key ID.
	auto map[string][]time.Time
	// async makes on-demand rotations asynchronous, as in AWS: one is
	// pending (GetKeyRotationStatus's OnDemandRotationStartDate, the
	// material unchanged, another refused with ConflictException) until
	// CompleteRotations; onRotate runs once a rotation is asked for,
	// before the answer is sent.
	async    bool
	pending  map[string]time.Time
	onRotate func()
	// keyPage and betweenKeyPages: see KeyPages.
	keyPage         int
	betweenKeyPages func(marker string, db *lkdata.Database)
}

// KeyPages caps ListKeys pages at n keys (0: as asked) and calls between
// before local-kms answers any page but the first, with the page's marker
// (the ARN of the key that page starts at) and local-kms's database: there
// a test changes the keys, as another client may between two pages.
func (lk *LocalKMS) KeyPages(n int, between func(marker string, db *lkdata.Database)) {
	lk.mu.Lock()
	lk.keyPage, lk.betweenKeyPages = n, between
	lk.mu.Unlock()
}

// SetAsyncRotation makes on-demand rotations asynchronous (pending until
// CompleteRotations) and runs onRotate (may be nil) as each is asked for,
// before its answer is sent.
func (lk *LocalKMS) SetAsyncRotation(onRotate func()) {
	lk.mu.Lock()
	lk.async, lk.onRotate = true, onRotate
	lk.mu.Unlock()
}

// CompleteRotations finishes the pending on-demand rotations.
func (lk *LocalKMS) CompleteRotations() {
	lk.mu.Lock()
	for id, at := range lk.pending {
		lk.rotated[id] = append(lk.rotated[id], at.Format(time.RFC3339))
	}
	clear(lk.pending)
	lk.mu.Unlock()
}

// Asked counts the RotateKeyOnDemand calls the stand-in accepted or
// refused.
func (lk *LocalKMS) Asked() int {
	lk.mu.Lock()
	defer lk.mu.Unlock()
	n := 0
	for _, s := range lk.stood {
		if s == "RotateKeyOnDemand" {
			n++
		}
	}
	return n
}

// externalKey is the stand-in's import state of one asymmetric key.
type externalKey struct {
	spec     string
	token    []byte
	der      []byte // the material imported first: only it may come again
	imported bool
	validTo  *float64
}

var (
	wrapping4096     *rsa.PrivateKey
	wrapping4096Once sync.Once
)

// wrappingKey is the stand-in's RSA 4096 wrapping key (made once: a
// 4096-bit key takes seconds on a loaded machine).
func wrappingKey() *rsa.PrivateKey {
	wrapping4096Once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			panic(err)
		}
		wrapping4096 = k
	})
	return wrapping4096
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
	lk := &LocalKMS{periods: map[string]int32{}, rotated: map[string][]string{}, accessKeys: map[string]int{}, managed: map[string]bool{},
		external: map[string]*externalKey{}, wrapping: map[string]string{}, auto: map[string][]time.Time{}, pending: map[string]time.Time{}}
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
	if target == "ListKeys" {
		lk.mu.Lock()
		n, between := lk.keyPage, lk.betweenKeyPages
		lk.mu.Unlock()
		var list map[string]any
		_ = json.Unmarshal(body, &list)
		if n > 0 && list != nil {
			list["Limit"] = n
			body, _ = json.Marshal(list)
		}
		if m, _ := list["Marker"].(string); m != "" && between != nil {
			between(m, db)
		}
	}
	forwardBody := func(b []byte) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(b))
		localkms.HandleRequest(rec, r2, db)
		return rec
	}
	forward := func() *httptest.ResponseRecorder { return forwardBody(body) }
	copyOut := func(rec *httptest.ResponseRecorder, b []byte) {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(b)
	}
	if lk.serveExternal(w, target, body, keyID, forwardBody, copyOut, db) {
		return
	}
	switch target {
	case "ListKeyRotations":
		// Stand-in: local-kms has no rotation history. Its rotations are
		// the stand-in's on-demand ones and the automatic ones a test
		// adds (AddAutomaticRotation); the key must exist (DescribeKey
		// through local-kms tells).
		r.Header.Set("X-Amz-Target", "TrentService.DescribeKey")
		rec := forward()
		var d struct{ KeyMetadata struct{ KeyId string } }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			copyOut(rec, rec.Body.Bytes())
			return
		}
		id := d.KeyMetadata.KeyId
		type entry struct {
			KeyId, RotationType string
			RotationDate        float64
		}
		var out []entry
		lk.mu.Lock()
		lk.stood = append(lk.stood, "ListKeyRotations")
		for _, at := range lk.rotated[id] {
			tm, _ := time.Parse(time.RFC3339, at)
			out = append(out, entry{id, "ON_DEMAND", float64(tm.Unix())})
		}
		for _, tm := range lk.auto[id] {
			out = append(out, entry{id, "AUTOMATIC", float64(tm.Unix())})
		}
		lk.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"Rotations": out, "Truncated": false})
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
		id := d.KeyMetadata.KeyId
		if !lk.async {
			lk.rotated[id] = append(lk.rotated[id], time.Now().UTC().Format(time.RFC3339))
			lk.mu.Unlock()
		} else {
			if _, busy := lk.pending[id]; busy {
				lk.mu.Unlock()
				awsError(w, "ConflictException", id+" has an on-demand rotation in progress")
				return
			}
			lk.pending[id] = time.Now().UTC().Truncate(time.Second)
			hook := lk.onRotate
			lk.mu.Unlock()
			if hook != nil {
				hook()
			}
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"KeyId":%q}`, d.KeyMetadata.KeyId)
	case "GetParametersForImport":
		var m0 map[string]any
		if json.Unmarshal(body, &m0) == nil {
			lk.mu.Lock()
			lk.wrapping[keyID] = fmt.Sprint(m0["WrappingAlgorithm"])
			lk.mu.Unlock()
		}
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
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			copyOut(rec, rec.Body.Bytes())
			return
		}
		lk.mu.Lock()
		p, ok := lk.periods[keyID]
		at, busy := lk.pending[keyID]
		lk.mu.Unlock()
		if out["KeyRotationEnabled"] == true {
			// Stand-in: add the period local-kms does not keep.
			if !ok {
				p = 365
			}
			out["RotationPeriodInDays"] = p
		}
		if busy {
			// Stand-in: an asynchronous on-demand rotation in progress.
			out["OnDemandRotationStartDate"] = float64(at.Unix())
		}
		b, _ := json.Marshal(out)
		copyOut(rec, b)
	case "DescribeKey":
		rec := forward()
		var out map[string]map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &out) == nil && out["KeyMetadata"] != nil {
			id := fmt.Sprint(out["KeyMetadata"]["KeyId"])
			lk.mu.Lock()
			managed, rotations := lk.managed[id], len(lk.rotated[id])+len(lk.auto[id])
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

func awsError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

// serveExternal is the stand-in for asymmetric BYOK, which local-kms
// lacks (it imports only symmetric material): CreateKey of an RSA or EC
// key with origin EXTERNAL (made in local-kms as its own key, shown as
// EXTERNAL and pending import), GetParametersForImport with
// RSA_AES_KEY_WRAP_SHA_256 and a 4096-bit wrapping key,
// ImportKeyMaterial (unwrapped here as AWS would: RSA-OAEP-SHA-256 of an
// AES key, then AES key wrap with padding of the PKCS#8 key; the
// material then replaces local-kms's own key, so local-kms signs and
// encrypts with it), DeleteImportedKeyMaterial, and the key's state in
// DescribeKey. It reports true when it answered.
func (lk *LocalKMS) serveExternal(w http.ResponseWriter, target string, body []byte, keyID string,
	forwardBody func([]byte) *httptest.ResponseRecorder, copyOut func(*httptest.ResponseRecorder, []byte), db *lkdata.Database) bool {
	forward := func() *httptest.ResponseRecorder { return forwardBody(body) }
	stood := func(what string) {
		lk.mu.Lock()
		lk.stood = append(lk.stood, what)
		lk.mu.Unlock()
	}
	if target == "CreateKey" {
		var in map[string]any
		if json.Unmarshal(body, &in) != nil || in["Origin"] != "EXTERNAL" || in["KeySpec"] == nil || in["KeySpec"] == "SYMMETRIC_DEFAULT" {
			return false
		}
		spec := fmt.Sprint(in["KeySpec"])
		delete(in, "Origin")
		b, _ := json.Marshal(in)
		rec := forwardBody(b)
		var out map[string]map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			copyOut(rec, rec.Body.Bytes())
			return true
		}
		id := fmt.Sprint(out["KeyMetadata"]["KeyId"])
		lk.mu.Lock()
		lk.external[id] = &externalKey{spec: spec}
		lk.mu.Unlock()
		stood("CreateKey EXTERNAL " + spec)
		out["KeyMetadata"]["Origin"], out["KeyMetadata"]["KeyState"], out["KeyMetadata"]["Enabled"] = "EXTERNAL", "PendingImport", false
		b, _ = json.Marshal(out)
		copyOut(rec, b)
		return true
	}
	lk.mu.Lock()
	ext := lk.external[keyID]
	lk.mu.Unlock()
	if ext == nil && target != "DescribeKey" {
		return false
	}
	switch target {
	case "GetParametersForImport":
		var in struct{ WrappingAlgorithm, WrappingKeySpec string }
		_ = json.Unmarshal(body, &in)
		lk.mu.Lock()
		lk.wrapping[keyID] = in.WrappingAlgorithm
		lk.mu.Unlock()
		if in.WrappingAlgorithm != "RSA_AES_KEY_WRAP_SHA_256" && in.WrappingAlgorithm != "RSA_AES_KEY_WRAP_SHA_1" {
			awsError(w, "ValidationException", "asymmetric key material is wrapped with RSA_AES_KEY_WRAP_SHA_*")
			return true
		}
		if in.WrappingKeySpec != "RSA_4096" {
			awsError(w, "ValidationException", "the stand-in wraps with RSA_4096 only")
			return true
		}
		pub, _ := x509.MarshalPKIXPublicKey(&wrappingKey().PublicKey)
		token := make([]byte, 64)
		rand.Read(token)
		lk.mu.Lock()
		ext.token = token
		lk.mu.Unlock()
		stood("GetParametersForImport " + in.WrappingAlgorithm)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"KeyId": keyID, "ImportToken": token, "PublicKey": pub,
			"ParametersValidTo": float64(time.Now().Add(24 * time.Hour).Unix())})
		return true
	case "ImportKeyMaterial":
		var in struct {
			ImportToken, EncryptedKeyMaterial []byte
			ExpirationModel                   string
			ValidTo                           *float64
		}
		if err := json.Unmarshal(body, &in); err != nil {
			awsError(w, "ValidationException", err.Error())
			return true
		}
		lk.mu.Lock()
		token := ext.token
		lk.mu.Unlock()
		if token == nil || !bytes.Equal(token, in.ImportToken) {
			awsError(w, "InvalidImportTokenException", "the import token is not the one GetParametersForImport gave")
			return true
		}
		der, err := unwrapRSAAES(wrappingKey(), in.EncryptedKeyMaterial)
		if err != nil {
			awsError(w, "InvalidCiphertextException", "unwrap: "+err.Error())
			return true
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			awsError(w, "IncorrectKeyMaterialException", "not a PKCS#8 private key")
			return true
		}
		lk.mu.Lock()
		same := ext.der == nil || bytes.Equal(ext.der, der)
		lk.mu.Unlock()
		if !same {
			awsError(w, "IncorrectKeyMaterialException", "the key material does not match the key's material")
			return true
		}
		arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", TestRegion, TestAccount, keyID)
		key, err := db.LoadKey(arn)
		if err != nil {
			awsError(w, "NotFoundException", err.Error())
			return true
		}
		switch k := key.(type) {
		case *cmk.RsaKey:
			p, ok := priv.(*rsa.PrivateKey)
			if !ok || fmt.Sprintf("RSA_%d", p.N.BitLen()) != ext.spec {
				awsError(w, "IncorrectKeyMaterialException", "the material is not a "+ext.spec+" key")
				return true
			}
			k.PrivateKey = cmk.RsaPrivateKey(*p)
		case *cmk.EccKey:
			p, ok := priv.(*ecdsa.PrivateKey)
			if !ok || "ECC_NIST_P"+strings.TrimPrefix(p.Curve.Params().Name, "P-") != ext.spec {
				awsError(w, "IncorrectKeyMaterialException", "the material is not a "+ext.spec+" key")
				return true
			}
			k.PrivateKey = cmk.EcdsaPrivateKey(*p)
		default:
			awsError(w, "UnsupportedOperationException", fmt.Sprintf("stand-in: %T", key))
			return true
		}
		if err := db.SaveKey(key); err != nil {
			awsError(w, "KMSInternalException", err.Error())
			return true
		}
		lk.mu.Lock()
		ext.der, ext.imported, ext.token = der, true, nil
		ext.validTo = nil
		if in.ExpirationModel == "KEY_MATERIAL_EXPIRES" {
			ext.validTo = in.ValidTo
		}
		lk.mu.Unlock()
		stood("ImportKeyMaterial " + ext.spec)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{}`)
		return true
	case "DeleteImportedKeyMaterial":
		lk.mu.Lock()
		ext.imported, ext.validTo = false, nil
		lk.mu.Unlock()
		stood("DeleteImportedKeyMaterial " + ext.spec)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{}`)
		return true
	case "Sign", "Encrypt", "Decrypt", "GetPublicKey", "Verify":
		lk.mu.Lock()
		imported := ext.imported
		lk.mu.Unlock()
		if !imported {
			awsError(w, "KMSInvalidStateException", keyID+" is pending import")
			return true
		}
		return false
	case "DescribeKey":
		rec := forward()
		var out map[string]map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out["KeyMetadata"] == nil {
			return false
		}
		id := fmt.Sprint(out["KeyMetadata"]["KeyId"])
		lk.mu.Lock()
		e := lk.external[id]
		var imported bool
		var validTo *float64
		if e != nil {
			imported, validTo = e.imported, e.validTo
		}
		lk.mu.Unlock()
		if e == nil {
			return false // the general DescribeKey stand-in answers
		}
		md := out["KeyMetadata"]
		md["Origin"] = "EXTERNAL"
		md["ExpirationModel"] = "KEY_MATERIAL_DOES_NOT_EXPIRE"
		if validTo != nil {
			md["ExpirationModel"], md["ValidTo"] = "KEY_MATERIAL_EXPIRES", *validTo
		}
		if !imported && md["KeyState"] != "PendingDeletion" {
			md["KeyState"], md["Enabled"] = "PendingImport", false
			delete(md, "ExpirationModel")
		}
		b, _ := json.Marshal(out)
		copyOut(rec, b)
		return true
	}
	return false
}

// unwrapRSAAES undoes RSA_AES_KEY_WRAP_SHA_256 as AWS does: the first
// modulus-size bytes are the AES key under RSA-OAEP-SHA-256, the rest the
// material under AES key wrap with padding (RFC 5649).
func unwrapRSAAES(k *rsa.PrivateKey, b []byte) ([]byte, error) {
	n := k.Size()
	if len(b) <= n {
		return nil, fmt.Errorf("%d bytes: shorter than the wrapped AES key", len(b))
	}
	aesKey, err := rsa.DecryptOAEP(sha256.New(), nil, k, b[:n], nil)
	if err != nil {
		return nil, err
	}
	kwp, err := subtle.NewKWP(aesKey)
	if err != nil {
		return nil, err
	}
	return kwp.Unwrap(b[n:])
}

// AddAutomaticRotation makes the stand-in's rotation history hold an
// automatic rotation of keyID at t, and its DescribeKey show new material.
func (lk *LocalKMS) AddAutomaticRotation(keyID string, t time.Time) {
	lk.mu.Lock()
	lk.auto[keyID] = append(lk.auto[keyID], t.UTC().Truncate(time.Second))
	lk.mu.Unlock()
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

// Client is a plain aws-sdk-go-v2 KMS client of lk, as an application
// using a key would hold one (not keyward's).
func (lk *LocalKMS) Client() *kms.Client {
	return kms.New(kms.Options{Region: TestRegion, BaseEndpoint: sdkaws.String(lk.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAAPPLICATION", "app-secret", "")})
}

// Described is key id (an id, ARN or alias) as lk holds it, read with a
// plain client (Client), not keyward's answer.
func (lk *LocalKMS) Described(t testing.TB, id string) *types.KeyMetadata {
	t.Helper()
	out, err := lk.Client().DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: sdkaws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.KeyMetadata
}
