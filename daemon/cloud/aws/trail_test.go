package aws

import (
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/daemon/demo/awskms"
)

// Trail is the tests' CloudTrail — a fake, written here
// (daemon/demo/awskms.Trail, the demo's too), because local-kms has no
// CloudTrail: LookupEvents in CloudTrail's real JSON protocol, spoken to
// the real aws-sdk-go-v2 cloudtrail client.
type Trail struct {
	*awskms.Trail
	URL string
}

// TrailEvent is one CloudTrail record of a KMS call.
type TrailEvent = awskms.TrailEvent

// StartTrail serves a Trail on a loopback port.
func StartTrail(t testing.TB) *Trail {
	tr := &awskms.Trail{}
	srv := httptest.NewServer(tr)
	t.Cleanup(srv.Close)
	return &Trail{Trail: tr, URL: srv.URL}
}
