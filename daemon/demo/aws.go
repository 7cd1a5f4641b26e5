//go:build !nodemoaws

package demo

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/awskms"
	"github.com/keyward/keyward/engine"
)

// startAWS starts the demo's AWS KMS (local-kms, embedded: about 7 MB of
// the binary; build with -tags nodemoaws to leave it out), seeds it and
// adds its [[aws]] section to cfg.
func startAWS(ctx context.Context, dir string, logger *slog.Logger, cfg *config.Config, st *Stack) (func(), error) {
	srv, err := awskms.Start(filepath.Join(dir, "aws"), logger)
	if err != nil {
		return nil, err
	}
	if err := srv.Seed(ctx, time.Now()); err != nil {
		srv.Close()
		return nil, err
	}
	keys, err := awskms.WriteKeys(filepath.Join(dir, "aws"))
	if err != nil {
		srv.Close()
		return nil, err
	}
	st.AWSURL = srv.URL + " (local-kms, embedded)"
	section := aws.Settings{Name: "aws-demo", Region: awskms.Region, StaticKeysFile: keys, Endpoint: srv.URL,
		DeletionWindowDays: 7, SyncInterval: engine.Duration(time.Minute),
		// Its CloudTrail is served beside it: the usage report and the
		// activity comparison show who used and changed the AWS keys.
		CloudTrail: true, CloudTrailEndpoint: srv.URL, CloudTrailLookback: engine.Duration(6 * time.Hour)}
	cfg.AddSource("aws", &section)
	return srv.Close, nil
}
