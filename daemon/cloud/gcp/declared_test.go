package gcp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/cloud"
)

// specRequest is the create request a front end makes of a declared spec
// ("TYPE [SIZE|CURVE]").
func specRequest(name, spec string) cloud.CreateRequest {
	typ, arg, _ := strings.Cut(spec, " ")
	r := cloud.CreateRequest{Name: name, Type: strings.ToUpper(typ), Curve: arg, Tags: map[string]string{}}
	if n, err := strconv.Atoi(arg); err == nil {
		r.Size, r.Curve = n, ""
	}
	return r
}

// TestDeclaredSpecsCreate: every key spec the connector declares passes
// its own check and creates that kind of key in the fake; the options it
// declares are the tags its check reads: each declared value of the
// purpose and the protection level is taken where it applies (an RSA key
// to decrypt, in an HSM), an undeclared one refused, and the algorithm
// option picks any other algorithm.
func TestDeclaredSpecsCreate(t *testing.T) {
	ctx := context.Background()
	_, p := startFake(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/declared"})
	for i, spec := range p.CreateSpecs() {
		r := specRequest(fmt.Sprintf("spec-%d", i), spec)
		if err := p.CheckSpec(r); err != nil {
			t.Errorf("declared %q: CheckSpec: %v", spec, err)
			continue
		}
		kv, err := p.Create(ctx, r)
		if err != nil {
			t.Errorf("declared %q: %v", spec, err)
			continue
		}
		if !strings.EqualFold(kv.Type, r.Type) || (r.Size != 0 && kv.Size != r.Size) || kv.Curve != r.Curve {
			t.Errorf("declared %q created as %s %d %s", spec, kv.Type, kv.Size, kv.Curve)
		}
	}
	opts := map[string]cloud.CreateOption{}
	for _, o := range p.CreateOptions() {
		opts[o.Tag] = o
	}
	if len(opts) != 3 || opts[TagPurpose].Values == nil || opts[TagProtection].Values == nil || opts[TagAlgorithm].Name == "" {
		t.Fatalf("declared options %+v", p.CreateOptions())
	}
	for _, prot := range opts[TagProtection].Values {
		r := specRequest("prot-"+strings.ToLower(prot), "RSA 3072")
		r.Tags[TagPurpose], r.Tags[TagProtection] = "ASYMMETRIC_DECRYPT", prot
		kv, err := p.Create(ctx, r)
		if err != nil || kv.Tags[TagProtection] != prot || kv.Tags[TagPurpose] != "ASYMMETRIC_DECRYPT" ||
			kv.Tags[TagAlgorithm] != "RSA_DECRYPT_OAEP_3072_SHA256" {
			t.Errorf("RSA 3072 to decrypt at %s: %+v %v", prot, kv.Tags, err)
		}
	}
	for _, purpose := range opts[TagPurpose].Values {
		spec := map[string]string{"ASYMMETRIC_SIGN": "RSA 2048", "ASYMMETRIC_DECRYPT": "RSA 4096", "ENCRYPT_DECRYPT": "oct", "MAC": "HMAC 256"}[purpose]
		if spec == "" {
			t.Errorf("declared purpose %q: no spec of this test takes it", purpose)
			continue
		}
		r := specRequest("purpose-"+strings.ToLower(purpose), spec)
		r.Tags[TagPurpose] = purpose
		if err := p.CheckSpec(r); err != nil {
			t.Errorf("declared purpose %s with %s: %v", purpose, spec, err)
		}
	}
	bad := specRequest("bad", "RSA 3072")
	bad.Tags[TagProtection] = "EXTERNAL"
	if err := p.CheckSpec(bad); err == nil || !strings.Contains(err.Error(), "SOFTWARE or HSM") {
		t.Errorf("an undeclared protection level: %v", err)
	}
	r := specRequest("pkcs1", "RSA 2048")
	r.Tags[TagAlgorithm] = "RSA_SIGN_PKCS1_2048_SHA256"
	if kv, err := p.Create(ctx, r); err != nil || kv.Tags[TagAlgorithm] != "RSA_SIGN_PKCS1_2048_SHA256" {
		t.Errorf("the algorithm option: %+v %v", kv.Tags, err)
	}
}
