package awskms

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
)

// TestSeedAndShim: the seeded account holds the six keys, and what the
// layer in front of local-kms adds works through the real SDK client:
// on-demand rotation of a symmetric key (a new material in use, a third
// entry in its rotation history), refused for an RSA key.
func TestSeedAndShim(t *testing.T) {
	s, err := Start(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Seed(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	al, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, a := range al.Aliases {
		ids[sdkaws.ToString(a.AliasName)[len("alias/"):]] = sdkaws.ToString(a.TargetKeyId)
	}
	for _, name := range Seeded {
		if ids[name] == "" {
			t.Fatalf("no key %s in %v", name, ids)
		}
	}
	before, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sdkaws.String(ids["orders-db"])})
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(*before.KeyMetadata.CreationDate); age < 399*24*time.Hour {
		t.Errorf("orders-db is %s old, want 400 days", age)
	}
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: sdkaws.String(ids["orders-db"])}); err != nil {
		t.Fatal(err)
	}
	after, _ := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: sdkaws.String(ids["orders-db"])})
	if sdkaws.ToString(after.KeyMetadata.CurrentKeyMaterialId) == sdkaws.ToString(before.KeyMetadata.CurrentKeyMaterialId) {
		t.Error("an on-demand rotation left the material in use")
	}
	h, err := c.ListKeyRotations(ctx, &kms.ListKeyRotationsInput{KeyId: sdkaws.String(ids["orders-db"])})
	if err != nil || len(h.Rotations) != 3 || h.Rotations[2].RotationType != "ON_DEMAND" {
		t.Errorf("rotation history: %+v %v", h, err)
	}
	var ae smithy.APIError
	if _, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: sdkaws.String(ids["invoice-signing"])}); !errors.As(err, &ae) || ae.ErrorCode() != "KMSInvalidStateException" {
		t.Errorf("on-demand rotation of an RSA key: %v", err)
	}
}
