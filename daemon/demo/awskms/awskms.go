// Package awskms is the AWS KMS of keyward demo: local-kms
// (github.com/nsmithuk/local-kms, MIT), an AWS KMS emulator written in Go,
// embedded on a loopback port with its own database, and seeded with
// keys of every kind and state (symmetric with rotation on, RSA, EC,
// HMAC, imported, disabled, pending deletion) as an account's history
// would leave them. A thin layer in front answers what local-kms lacks
// (on-demand rotation, the rotation history, the material in use, a
// 4096-bit wrapping key) so every life-cycle action the demo offers works.
package awskms

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	lkconfig "github.com/nsmithuk/local-kms/src/config"
	lkdata "github.com/nsmithuk/local-kms/src/data"
	lkhandler "github.com/nsmithuk/local-kms/src/handler"
	"github.com/sirupsen/logrus"
)

// Region and Account of the demo's AWS account.
const (
	Region  = "eu-west-1"
	Account = "111122223333"
)

var setAccount sync.Once

// Server is the demo's embedded AWS KMS.
type Server struct {
	// URL is the endpoint ([[aws]] endpoint), http on loopback.
	URL string

	srv *http.Server
	db  *lkdata.Database
	log *logrus.Logger

	mu        sync.Mutex
	rotations map[string][]rotation // key ID → its rotation history
	// Trail is the account's CloudTrail (LookupEvents, at URL too).
	Trail *Trail
}

type rotation struct {
	at   time.Time
	kind types.RotationType
}

// Start serves an AWS KMS on a loopback port with its database in dir;
// local-kms's own log goes to logger's output at debug level.
func Start(dir string, logger *slog.Logger) (s *Server, err error) {
	setAccount.Do(func() { lkconfig.AWSRegion, lkconfig.AWSAccountId = Region, Account })
	defer func() {
		if r := recover(); r != nil { // local-kms panics when its database does not open
			err = fmt.Errorf("local-kms: %v", r)
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	lg := logrus.New()
	lg.SetOutput(slogWriter{logger})
	lg.SetFormatter(&logrus.TextFormatter{DisableColors: true, DisableTimestamp: true})
	s = &Server{db: lkdata.NewDatabase(filepath.Join(dir, "local-kms")), log: lg, rotations: map[string][]rotation{}, Trail: &Trail{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.db.Close()
		return nil, err
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server and closes its database.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.db.Close()
}

// WriteKeys writes the static_keys_file keyward signs its requests with
// (local-kms checks no signature) and returns its path.
func WriteKeys(dir string) (string, error) {
	p := filepath.Join(dir, "aws-keys")
	return p, os.WriteFile(p, []byte("aws_access_key_id = AKIAKEYWARDDEMO\naws_secret_access_key = demo-secret\n"), 0o600)
}

// slogWriter carries local-kms's log lines to the demo's log.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)), "component", "local-kms")
	return len(p), nil
}

// serve answers one KMS request: what local-kms lacks here, the rest by
// local-kms's own handlers (as its server does, without its logger on
// the terminal the TUI draws on).
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "CloudTrail_20131101.") {
		s.Trail.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	target := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	var in struct {
		KeyId           string
		WrappingKeySpec string
	}
	_ = json.Unmarshal(body, &in)
	switch target {
	case "GetParametersForImport":
		// local-kms wraps only for a 2048-bit key; keyward asks for 4096.
		if in.WrappingKeySpec == "RSA_4096" {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			m["WrappingKeySpec"] = "RSA_2048"
			body, _ = json.Marshal(m)
		}
	case "RotateKeyOnDemand", "ListKeyRotations":
		rec := s.local(r, "DescribeKey", body)
		var d struct {
			KeyMetadata struct{ KeyId, KeyState, KeySpec, Origin string }
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
			copyOut(w, rec, rec.Body.Bytes())
			return
		}
		id := d.KeyMetadata.KeyId
		if target == "RotateKeyOnDemand" {
			if d.KeyMetadata.KeyState != "Enabled" || d.KeyMetadata.KeySpec != "SYMMETRIC_DEFAULT" || d.KeyMetadata.Origin != "AWS_KMS" {
				awsError(w, "KMSInvalidStateException", id+" cannot be rotated on demand in its state or of its kind")
				return
			}
			s.addRotation(id, time.Now(), types.RotationTypeOnDemand)
			writeJSON(w, map[string]any{"KeyId": id})
			return
		}
		s.mu.Lock()
		var out []map[string]any
		for _, rot := range s.rotations[id] {
			out = append(out, map[string]any{"KeyId": id, "RotationDate": float64(rot.at.Unix()), "RotationType": rot.kind})
		}
		s.mu.Unlock()
		writeJSON(w, map[string]any{"Rotations": out, "Truncated": false})
		return
	}
	rec := s.local(r, target, body)
	if target == "DescribeKey" && rec.Code == http.StatusOK {
		// The material in use changes with each rotation.
		var out map[string]map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &out) == nil && out["KeyMetadata"] != nil && out["KeyMetadata"]["Origin"] == "AWS_KMS" &&
			out["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT" {
			s.mu.Lock()
			n := len(s.rotations[fmt.Sprint(out["KeyMetadata"]["KeyId"])])
			s.mu.Unlock()
			out["KeyMetadata"]["CurrentKeyMaterialId"] = fmt.Sprintf("%064x", n+1)
			b, _ := json.Marshal(out)
			copyOut(w, rec, b)
			return
		}
	}
	copyOut(w, rec, rec.Body.Bytes())
}

// local runs one request through local-kms's handlers.
func (s *Server) local(r *http.Request, target string, body []byte) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	h := lkhandler.NewRequestHandler(r2, s.log, s.db)
	m := reflect.ValueOf(h).MethodByName(target)
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		awsError(rec, "UnsupportedOperationException", "the demo's AWS KMS (local-kms) does not implement "+target)
		return rec
	}
	resp, ok := m.Call(nil)[0].Interface().(lkhandler.Response)
	if !ok {
		awsError(rec, "KMSInternalException", "local-kms answered "+target+" with no response")
		return rec
	}
	rec.Header().Set("Content-Type", "application/x-amz-json-1.1")
	rec.WriteHeader(resp.Code)
	_, _ = io.WriteString(rec, resp.Body)
	return rec
}

func copyOut(w http.ResponseWriter, rec *httptest.ResponseRecorder, b []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(rec.Code)
	_, _ = w.Write(b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func awsError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}

func (s *Server) addRotation(id string, at time.Time, kind types.RotationType) {
	s.mu.Lock()
	s.rotations[id] = append(s.rotations[id], rotation{at: at.UTC().Truncate(time.Second), kind: kind})
	s.mu.Unlock()
}

// Client is a KMS client of the server, as an application would hold one.
func (s *Server) Client() *kms.Client {
	return kms.New(kms.Options{Region: Region, BaseEndpoint: sdkaws.String(s.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAKEYWARDDEMO", "demo-secret", "")})
}

// Seeded names the demo's keys by alias: what each shows.
var Seeded = []string{"orders-db", "invoice-signing", "device-attest", "webhook-mac", "crm-byok", "old-exports"}

// Seed creates the demo account's keys: orders-db (symmetric, automatic
// rotation on, rotated twice, 400 days old), invoice-signing (RSA 3072,
// signing), device-attest (EC P-256, disabled), webhook-mac (HMAC 256),
// crm-byok (imported 256-bit material expiring in 60 days) and
// old-exports (symmetric, 700 days old, pending deletion in 7 days); and
// its CloudTrail: the last five hours of the services and roles using
// them, and who disabled one and changed another's policy.
func (s *Server) Seed(ctx context.Context, now time.Time) error {
	c := s.Client()
	create := func(alias string, in *kms.CreateKeyInput, ageDays int) (string, error) {
		in.Tags = append(in.Tags, types.Tag{TagKey: sdkaws.String("owner"), TagValue: sdkaws.String("platform")})
		out, err := c.CreateKey(ctx, in)
		if err != nil {
			return "", fmt.Errorf("create %s: %w", alias, err)
		}
		id := sdkaws.ToString(out.KeyMetadata.KeyId)
		if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: sdkaws.String("alias/" + alias), TargetKeyId: sdkaws.String(id)}); err != nil {
			return "", fmt.Errorf("alias %s: %w", alias, err)
		}
		if ageDays > 0 {
			if err := s.backdate(id, now.AddDate(0, 0, -ageDays)); err != nil {
				return "", err
			}
		}
		return id, nil
	}
	sym := func(desc string) *kms.CreateKeyInput {
		return &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt, Description: sdkaws.String(desc)}
	}
	ids := map[string]string{}
	orders, err := create("orders-db", sym("orders database envelope key"), 400)
	if err != nil {
		return err
	}
	if _, err := c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: sdkaws.String(orders), RotationPeriodInDays: sdkaws.Int32(180)}); err != nil {
		return fmt.Errorf("rotation of orders-db: %w", err)
	}
	s.addRotation(orders, now.AddDate(0, 0, -220), types.RotationTypeAutomatic)
	s.addRotation(orders, now.AddDate(0, 0, -40), types.RotationTypeAutomatic)
	invoice, err := create("invoice-signing", &kms.CreateKeyInput{KeySpec: types.KeySpecRsa3072, KeyUsage: types.KeyUsageTypeSignVerify,
		Description: sdkaws.String("signs invoices (PDF/A)")}, 200)
	if err != nil {
		return err
	}
	attest, err := create("device-attest", &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify}, 90)
	if err != nil {
		return err
	}
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: sdkaws.String(attest)}); err != nil {
		return fmt.Errorf("disable device-attest: %w", err)
	}
	mac, err := create("webhook-mac", &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac}, 30)
	if err != nil {
		return err
	}
	byok, err := create("crm-byok", &kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, KeyUsage: types.KeyUsageTypeEncryptDecrypt,
		Origin: types.OriginTypeExternal, Description: sdkaws.String("CRM field key, material from the on-premises KMS")}, 0)
	if err != nil {
		return err
	}
	if err := importMaterial(ctx, c, byok, now.AddDate(0, 0, 60)); err != nil {
		return err
	}
	old, err := create("old-exports", sym("2024 export archive"), 700)
	if err != nil {
		return err
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: sdkaws.String(old), PendingWindowInDays: sdkaws.Int32(7)}); err != nil {
		return fmt.Errorf("schedule deletion of old-exports: %w", err)
	}
	ids["orders-db"], ids["invoice-signing"], ids["device-attest"], ids["webhook-mac"], ids["crm-byok"] = orders, invoice, attest, mac, byok
	s.seedTrail(now, ids)
	return nil
}

// seedTrail fills the CloudTrail with five hours of use and two changes
// made in the console.
func (s *Server) seedTrail(now time.Time, ids map[string]string) {
	role := func(name string) string { return "arn:aws:iam::" + Account + ":role/" + name }
	user := func(name string) string { return "arn:aws:iam::" + Account + ":user/" + name }
	var evs []TrailEvent
	use := func(key, name, arn, by string, hoursAgo, n int) {
		base := now.Add(-time.Duration(hoursAgo) * time.Hour).Truncate(time.Hour)
		for i := range n {
			evs = append(evs, TrailEvent{Time: base.Add(time.Duration(i*3600/n) * time.Second), Name: name, KeyID: ids[key], ARN: arn, InvokedBy: by,
				UserAgent: "aws-sdk-java/2.25.0", SourceIP: "10.20.0.14"})
		}
	}
	for h := 1; h <= 5; h++ {
		use("orders-db", "GenerateDataKey", role("orders-api"), "", h, 20+3*h)
		use("orders-db", "Decrypt", role("orders-api"), "s3.amazonaws.com", h, 40+h)
		use("invoice-signing", "Sign", role("billing-batch"), "", h, 2+h)
		use("webhook-mac", "GenerateMac", role("webhooks"), "", h, 12)
		use("webhook-mac", "VerifyMac", role("webhooks"), "", h, 9)
	}
	use("crm-byok", "Decrypt", role("crm-sync"), "", 2, 5)
	evs = append(evs,
		TrailEvent{Time: now.Add(-3 * time.Hour), Name: "DisableKey", KeyID: ids["device-attest"], ARN: user("bob"), SourceIP: "198.51.100.7", UserAgent: "console.amazonaws.com"},
		TrailEvent{Time: now.Add(-4 * time.Hour), Name: "PutKeyPolicy", KeyID: ids["crm-byok"], ARN: user("alice"), SourceIP: "198.51.100.9", UserAgent: "console.amazonaws.com"},
		TrailEvent{Time: now.Add(-90 * time.Minute), Name: "Decrypt", KeyID: ids["orders-db"], ARN: user("mallory"), SourceIP: "203.0.113.66", ErrorCode: "AccessDeniedException"},
	)
	s.Trail.Add(evs...)
}

// importMaterial imports fresh random 256-bit material into key id,
// expiring at validTo (the material is dropped here: the demo's key has
// no copy outside its KMS).
func importMaterial(ctx context.Context, c *kms.Client, id string, validTo time.Time) error {
	p, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: sdkaws.String(id),
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	if err != nil {
		return fmt.Errorf("import parameters of crm-byok: %w", err)
	}
	pubAny, err := x509.ParsePKIXPublicKey(p.PublicKey)
	pub, ok := pubAny.(*rsa.PublicKey)
	if err != nil || !ok {
		return errors.New("crm-byok: the wrapping key is not RSA")
	}
	material := make([]byte, 32)
	defer clear(material)
	if _, err := rand.Read(material); err != nil {
		return err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, material, nil)
	if err != nil {
		return err
	}
	if _, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: sdkaws.String(id), ImportToken: p.ImportToken, EncryptedKeyMaterial: wrapped,
		ExpirationModel: types.ExpirationModelTypeKeyMaterialExpires, ValidTo: sdkaws.Time(validTo.Truncate(time.Second))}); err != nil {
		return fmt.Errorf("import crm-byok: %w", err)
	}
	return nil
}

// backdate sets a key's creation date in local-kms's database, so the
// demo's aging report has old AWS keys to show.
func (s *Server) backdate(id string, created time.Time) error {
	arn := fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, id)
	k, err := s.db.LoadKey(arn)
	if err != nil {
		return fmt.Errorf("backdate %s: %w", id, err)
	}
	k.GetMetadata().CreationDate = created.Unix()
	return s.db.SaveKey(k)
}
