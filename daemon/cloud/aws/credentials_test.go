package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
)

// TestAssumeRoleWithExternalID: with role_arn, the SDK's stscreds asks STS
// (a stand-in at sts_endpoint answering AssumeRole as AWS does) with the
// external ID, and KMS requests are signed with the assumed credentials,
// not the base ones.
func TestAssumeRoleWithExternalID(t *testing.T) {
	lk := StartLocalKMS(t)
	var mu sync.Mutex
	var got url.Values
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, _ = url.ParseQuery(string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMEDROLE</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey><SessionToken>session</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::444455556666:assumed-role/KeywardAdmin/keyward-x</Arn><AssumedRoleId>AROAX:keyward-x</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer sts.Close()
	cfg := LocalSettings(t, lk, "x")
	cfg.RoleARN, cfg.ExternalID, cfg.STSEndpoint = "arn:aws:iam::444455556666:role/KeywardAdmin", "kw-4711", sts.URL
	a := newAccount(t, cfg)
	if _, err := a.Create(context.Background(), cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Get("Action") != "AssumeRole" || got.Get("RoleArn") != cfg.RoleARN || got.Get("ExternalId") != "kw-4711" || got.Get("RoleSessionName") != "keyward-x" {
		t.Errorf("AssumeRole request: %v", got)
	}
	if keys := lk.AccessKeys(); keys["ASIAASSUMEDROLE"] == 0 || keys["AKIATESTKEYWARD"] != 0 {
		t.Errorf("KMS requests signed by %v, want only the assumed role's key", keys)
	}
}

// TestHTTPSProxyIsUsed: with https_proxy, every request goes through the
// proxy.
func TestHTTPSProxyIsUsed(t *testing.T) {
	lk := StartLocalKMS(t)
	target, _ := url.Parse(lk.URL)
	var mu sync.Mutex
	seen := 0
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cfg := LocalSettings(t, lk, "p")
	// The endpoint is unreachable except through the proxy.
	cfg.Endpoint, cfg.HTTPSProxy = "http://127.0.0.1:1", proxy.URL
	a := newAccount(t, cfg)
	if _, err := a.Create(context.Background(), cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen < 3 {
		t.Errorf("the proxy saw %d requests", seen)
	}
}

// TestAWSManagedKeysAreReadOnly: AWS-managed keys are listed and every
// change is refused, naming the key, before any request that changes it.
func TestAWSManagedKeysAreReadOnly(t *testing.T) {
	lk := StartLocalKMS(t)
	cfg := LocalSettings(t, lk, "m")
	ctx := context.Background()
	maker, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	// local-kms makes no AWS-managed keys: the stand-in reports this one
	// as one.
	kv, err := maker.Create(ctx, cloud.CreateRequest{Name: "ebs", Type: "oct"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	lk.MarkAWSManaged(kv.Name)
	live, _ := listAll(t, a)
	if got := live[kv.Name]; got.Tags[TagManager] != "AWS" || got.Tags[TagRotation] != "yearly (AWS-managed)" {
		t.Errorf("listed as %v", got.Tags)
	}
	before := a.Calls()
	off := false
	for op, call := range map[string]func() error{
		"update": func() error { _, err := a.Update(ctx, kv.Name, "", cloud.Update{Enabled: &off}); return err },
		"rotate": func() error { _, err := a.Rotate(ctx, kv.Name); return err },
		"delete": func() error { _, err := a.Delete(ctx, kv.Name); return err },
		"policy": func() error { _, err := a.SetRotationPolicy(ctx, kv.Name, cloud.RotationPolicy{}); return err },
	} {
		if err := call(); !errors.Is(err, cloud.ErrUnsupported) || !strings.Contains(err.Error(), "AWS-managed key (ebs) is read-only") {
			t.Errorf("%s of an AWS-managed key: %v", op, err)
		}
	}
	for api, n := range a.Calls() {
		if api != "DescribeKey" && api != "ListAliases" && n != before[api] {
			t.Errorf("%s was called for an AWS-managed key", api)
		}
	}
}

// TestLocalKMSStaysOutOfTheBinary: local-kms (and the old AWS SDK it
// pulls in) is linked only for the demo's AWS account (daemon/demo/awskms):
// never by the connector or the daemon, and not at all in a binary built
// with -tags nodemoaws.
func TestLocalKMSStaysOutOfTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	deps := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list", "-deps"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		return string(out)
	}
	for _, c := range [][]string{
		{"-tags", "nodemoaws", "github.com/keyward/keyward"},
		{"github.com/keyward/keyward/daemon/cloud/aws"},
		{"github.com/keyward/keyward/daemon"},
	} {
		out := deps(c...)
		for _, bad := range []string{"github.com/nsmithuk/local-kms", "github.com/aws/aws-sdk-go/"} {
			if strings.Contains(out, bad) {
				t.Errorf("go list -deps %s links %s", strings.Join(c, " "), bad)
			}
		}
	}
	out := deps("github.com/keyward/keyward")
	if !strings.Contains(out, "github.com/keyward/keyward/daemon/cloud/aws\n") || !strings.Contains(out, "github.com/keyward/keyward/daemon/demo/awskms\n") {
		t.Error("the keyward binary does not link the aws connector and the demo's AWS account")
	}
}

// TestRequestsArePaced: requests_per_second spaces every request of the
// account, so a sync cannot exceed the pace whatever it has to read.
func TestRequestsArePaced(t *testing.T) {
	lk := StartLocalKMS(t)
	cfg := LocalSettings(t, lk, "paced")
	cfg.RequestsPerSecond = 20
	a := newAccount(t, cfg)
	start := time.Now()
	// CreateKey, CreateAlias, DescribeKey, ListResourceTags, ListAliases,
	// GetKeyRotationStatus, ListKeyRotations: 7 requests, 6 gaps of 50 ms.
	if _, err := a.Create(context.Background(), cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	if n, took := cloudtest.Total(a.Calls()), time.Since(start); n != 7 || took < 290*time.Millisecond {
		t.Errorf("%d requests in %s at 20 a second", n, took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := a.Get(ctx, "k", ""); err == nil {
		t.Error("a cancelled read went on")
	}
}

// TestWebIdentity: with credential "web-identity", the SDK's stscreds
// exchanges the token file's content for role_arn's credentials at a
// stand-in STS (answering AssumeRoleWithWebIdentity as AWS does, and
// saying so), unsigned, and KMS requests are signed with what it gave.
func TestWebIdentity(t *testing.T) {
	lk := StartLocalKMS(t)
	var mu sync.Mutex
	var got url.Values
	var auth string
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, _ = url.ParseQuery(string(b))
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>ASIAWEBIDENTITY</AccessKeyId><SecretAccessKey>web-secret</SecretAccessKey><SessionToken>session</SessionToken><Expiration>%s</Expiration></Credentials>
<SubjectFromWebIdentityToken>system:serviceaccount:keyward:keyward</SubjectFromWebIdentityToken>
<AssumedRoleUser><Arn>arn:aws:sts::444455556666:assumed-role/KeywardIRSA/keyward-w</Arn><AssumedRoleId>AROAW:keyward-w</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	defer sts.Close()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("eyJhbGciOiJSUzI1NiJ9.oidc-token.sig"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Settings{Name: "w", Region: TestRegion, Endpoint: lk.URL, RequestsPerSecond: 10000,
		WebIdentityTokenFile: token, RoleARN: "arn:aws:iam::444455556666:role/KeywardIRSA", STSEndpoint: sts.URL}
	if k := cfg.CredentialKind(); k != CredWebIdentity {
		t.Fatalf("a token file alone picks credential %q", k)
	}
	a := newAccount(t, cfg)
	if _, err := a.Create(context.Background(), cloud.CreateRequest{Name: "w", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.Get("Action") != "AssumeRoleWithWebIdentity" || got.Get("RoleArn") != cfg.RoleARN ||
		got.Get("WebIdentityToken") != "eyJhbGciOiJSUzI1NiJ9.oidc-token.sig" || got.Get("RoleSessionName") != "keyward-w" {
		t.Errorf("AssumeRoleWithWebIdentity request: %v", got)
	}
	if auth != "" {
		t.Errorf("the web identity exchange was signed (%q): it must be anonymous", auth)
	}
	if keys := lk.AccessKeys(); keys["ASIAWEBIDENTITY"] == 0 || len(keys) != 1 {
		t.Errorf("KMS requests signed by %v, want only the web identity role's key", keys)
	}

	// An empty or missing token file is refused at start, without
	// echoing anything of it.
	if err := os.WriteFile(token, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "web_identity_token_file "+token+" is empty") {
		t.Errorf("empty token file: %v", err)
	}
	cfg.WebIdentityTokenFile = filepath.Join(dir, "nope")
	if _, err := New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "web_identity_token_file: open") {
		t.Errorf("missing token file: %v", err)
	}
}
