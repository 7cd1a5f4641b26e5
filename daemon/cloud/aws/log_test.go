package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/daemontest"
)

// TestRotationHistoryAndCloudTrail runs the daemon against local-kms and
// the CloudTrail stand-in (a fake: local-kms has no CloudTrail, and no
// rotation history, which the local-kms stand-in answers): rotations made
// outside keyward come into the key's activity from ListKeyRotations
// with their own dates, keyward's own rotation is not recorded twice;
// CloudTrail's KMS events become the usage report (which service or
// principal used which key, per hour) and activity naming who changed a
// key, leaving out keyward's own and failed calls and what is not yet
// settled; nothing is counted twice, over syncs or a daemon restart.
func TestRotationHistoryAndCloudTrail(t *testing.T) {
	lk := aws.StartLocalKMS(t)
	trail := aws.StartTrail(t)
	ctx := context.Background()
	dir := t.TempDir()
	keysFile := aws.WriteStaticKeys(t, dir)
	console, err := aws.New(ctx, aws.Settings{Name: "console", Region: aws.TestRegion, StaticKeysFile: keysFile, Endpoint: lk.URL, RequestsPerSecond: 10000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := console.Create(ctx, cloud.CreateRequest{Name: "orders", Type: "oct"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := awsConfig(t, dir, lk, fmt.Sprintf(`requests_per_second = 10000
full_refresh_every = 1
cloudtrail = true
cloudtrail_endpoint = %q
cloudtrail_lookback = "3h"
`, trail.URL))

	now := time.Now().UTC().Truncate(time.Second)
	two := now.Add(-2 * time.Hour)
	var evs []aws.TrailEvent
	for i := range 120 { // three pages
		evs = append(evs, aws.TrailEvent{Time: two.Add(time.Duration(i) * time.Second), Name: "Decrypt", KeyID: k.Name, InvokedBy: "s3.amazonaws.com",
			ARN: "arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc"})
	}
	for i := range 3 {
		evs = append(evs, aws.TrailEvent{Time: two.Add(time.Duration(30+i) * time.Minute), Name: "GenerateDataKey", KeyID: k.Name,
			ARN: "arn:aws:iam::111122223333:role/orders-api"})
	}
	evs = append(evs,
		aws.TrailEvent{Time: two.Add(40 * time.Minute), Name: "DisableKey", KeyID: k.Name, ARN: "arn:aws:iam::111122223333:user/bob", SourceIP: "198.51.100.7"},
		aws.TrailEvent{Time: two.Add(41 * time.Minute), Name: "EnableKey", KeyID: k.Name, ARN: "arn:aws:iam::111122223333:user/keyward",
			UserAgent: "aws-sdk-go-v2/1.48.0 ua/2.1 os/linux lang/go#1.26 app/keyward"},
		aws.TrailEvent{Time: two.Add(42 * time.Minute), Name: "Decrypt", KeyID: k.Name, ARN: "arn:aws:iam::111122223333:user/mallory", ErrorCode: "AccessDeniedException"},
		aws.TrailEvent{Time: two.Add(43 * time.Minute), Name: "DescribeKey", KeyID: k.Name, ARN: "arn:aws:iam::111122223333:user/bob"},
		// Not settled yet (CloudTrail may still add events of this time).
		aws.TrailEvent{Time: now.Add(-2 * time.Minute), Name: "Encrypt", KeyID: k.Name, ARN: "arn:aws:iam::111122223333:role/late"},
	)
	trail.Add(evs...)

	check := func(t *testing.T, sock string) {
		t.Helper()
		c := api.NewClient(sock)
		u, err := c.UsageReport(ctx, api.ReportQuery{From: "-1d", To: "+1d", Source: "aws-prod"})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][2]int64{}
		for _, r := range u.Rows {
			v := got[r.App]
			got[r.App] = [2]int64{v[0] + r.Encrypts, v[1] + r.Decrypts}
		}
		want := map[string][2]int64{"s3.amazonaws.com": {0, 120}, "role/orders-api@111122223333": {3, 0}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("usage from CloudTrail: %v, want %v", got, want)
		}
		rep, err := c.ActivityReport(ctx, api.ReportQuery{Key: "aws-prod/" + k.Name + "/current", Comparison: true, From: "-1y", To: "+1d", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range rep.Events {
			lines = append(lines, e.Operation+" "+e.Actor+": "+e.Details)
		}
		all := strings.Join(lines, "\n")
		for _, want := range []string{
			"disabled user/bob@111122223333: CloudTrail: DisableKey by user/bob@111122223333 from 198.51.100.7",
			"rotated aws: rotated on demand in AWS (the key's rotation history)",
			"rotated aws: rotated automatically in AWS (the key's rotation history)",
		} {
			if strings.Count(all, want) != 1 {
				t.Errorf("activity holds %q %d times, want once:\n%s", want, strings.Count(all, want), all)
			}
		}
		for _, never := range []string{"EnableKey", "mallory", "DescribeKey", "role/late"} {
			if strings.Contains(all, never) {
				t.Errorf("activity holds %q:\n%s", never, all)
			}
		}
		if n := strings.Count(all, "rotated aws:"); n != 2 {
			t.Errorf("%d rotations from the history, want 2 (keyward's own is keyward's event):\n%s", n, all)
		}
	}

	t.Run("syncs", func(t *testing.T) {
		sock := daemontest.Start(t, cfg, daemon.Options{})
		kw := clitest.Runner(t, sock)
		kw("sync", "--source", "aws-prod")
		// Outside keyward: an on-demand rotation, and AWS's automatic one.
		if _, err := console.Rotate(ctx, k.Name); err != nil {
			t.Fatal(err)
		}
		lk.AddAutomaticRotation(k.Name, now.Add(-90*time.Second))
		kw("sync", "--source", "aws-prod")
		// keyward's own rotation, and automatic rotation on (so a restart
		// reads the history again).
		kw("key", "rotate", "aws-prod", k.Name)
		kw("key", "policy", "aws-prod", k.Name, "--rotate-after", "180d")
		kw("sync", "--source", "aws-prod")
		kw("sync", "--source", "aws-prod")
		check(t, sock)
		// Exactly 5 calls: the 3 windows of the lookback, one of 3
		// pages, each read once over all the syncs. On a loaded machine
		// the SDK may send one request again (its connection closed
		// while the answer was read: "use of closed network
		// connection", a retryable error): that is the same call
		// (amz-sdk-invocation-id), not a window read twice.
		if n := trail.Calls(); n != 5 || len(trail.Windows()) != 3 {
			t.Errorf("%d LookupEvents calls (%d requests; windows %v): want the 3 windows of the lookback (one of 3 pages), then none until 5 more minutes settle",
				n, trail.Lookups(), trail.Windows())
		}
	})
	t.Run("after a restart", func(t *testing.T) {
		before := trail.Lookups()
		sock := daemontest.Start(t, cfg, daemon.Options{})
		if code, _, errs := clitest.Run(sock, "sync", "--source", "aws-prod"); code != cli.ExitOK {
			t.Fatal(errs)
		}
		check(t, sock)
		if n := trail.Lookups() - before; n != 0 {
			t.Errorf("the restarted daemon read CloudTrail %d times again before 5 more minutes settled", n)
		}
	})
}
