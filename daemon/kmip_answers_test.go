package daemon

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
)

// TestRotateAppAgainstAKMSAnsweringWithoutAPayload: the KMS answers the
// rotation's Create with success and no payload (kmip-go's typed request
// panicked on it). keyward rotate-app (POST /v1/kmip/{source}/apps/{app}/
// rotate) answers an error naming the source, the KMS's address and the
// generation it was making; the daemon serves on, the ring still encrypts
// with the generation it had, and the rotation works once the KMS answers.
func TestRotateAppAgainstAKMSAnsweringWithoutAPayload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(t.TempDir(), "kms"),
		Apps: []kms.App{{Name: "crm", Prefix: "acme.crm.key.", Generations: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg := testConfig(t)
	cfg.KMIP = []config.KMIPSource{srv.SourceConfig("kms", time.Hour)}
	r := run(t, cfg, Options{})
	c := api.NewClient(r.socket)
	waitKeys(t, c, 2)
	srv.RewriteAnswers(func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if resp.BatchItem[i].Operation == kmip.OperationCreate {
				resp.BatchItem[i].ResponsePayload = nil
			}
		}
	})
	_, err = c.RotateApp(ctx, "kms", "crm")
	if err == nil {
		t.Fatal("the rotation worked with a Create answered without a payload")
	}
	for _, want := range []string{`rotate application "crm" on kms`, "acme.crm.key.3", srv.Addr(), "answered Create"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("rotation error %q does not say %q", err, want)
		}
	}
	if _, err := c.Status(ctx); err != nil {
		t.Fatalf("the daemon after the rotation: %v", err)
	}
	srv.RewriteAnswers(nil)
	rot, err := c.RotateApp(ctx, "kms", "crm")
	if err != nil {
		t.Fatalf("the rotation, the KMS answering again: %v", err)
	}
	if rot.Generation == "" || rot.Generation == "acme.crm.key.2" {
		t.Fatalf("rotation %+v", rot)
	}
}
