package daemontest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
)

// AddKMIPRings starts keyward's embedded KMS in dir/kms, holding the demo
// applications' key rings and served over mutual TLS until the test
// ends, and adds it to cfg as the KMIP source "kms", polled hourly: the
// rings a connector's upload --from-source takes material from.
func AddKMIPRings(t testing.TB, cfg *config.Config, dir string) {
	t.Helper()
	srv, err := kms.Start(context.Background(), kms.Options{Dir: filepath.Join(dir, "kms"), Apps: kms.DemoApps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg.KMIP = append(cfg.KMIP, srv.SourceConfig("kms", time.Hour))
}
