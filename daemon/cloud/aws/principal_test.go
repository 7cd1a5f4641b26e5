package aws

import (
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

func TestPrincipal(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:iam::111122223333:role/orders-api":                        "role/orders-api@111122223333",
		"arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc":         "role/orders-api@111122223333",
		"arn:aws:iam::111122223333:user/bob":                               "user/bob@111122223333",
		"arn:aws:iam::111122223333:role/service-role/lambda-webhooks":      "role/lambda-webhooks@111122223333",
		"arn:aws:iam::111122223333:root":                                   "root@111122223333",
		"arn:aws-cn:sts::444455556666:assumed-role/KeywardAdmin/keyward-x": "role/KeywardAdmin@444455556666",
		"s3.amazonaws.com":                        "s3.amazonaws.com",
		"arn:aws:sts::111122223333:assumed-role/": "arn:aws:sts::111122223333:assumed-role/",
		"": "",
	} {
		if got := Principal(in); got != want {
			t.Errorf("Principal(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzPrincipal: no input panics, and what comes back is the input or
// ends with "@" and the input's account.
func FuzzPrincipal(f *testing.F) {
	f.Add("arn:aws:sts::111122223333:assumed-role/orders-api/i-0abc")
	f.Add("arn:aws:iam::1:role//x")
	f.Add("arn:aws:iam:::user/")
	f.Fuzz(func(t *testing.T, arn string) {
		got := Principal(arn)
		if got == arn {
			return
		}
		parts := strings.SplitN(arn, ":", 6)
		if len(parts) != 6 || !strings.HasSuffix(got, "@"+parts[4]) {
			t.Fatalf("Principal(%q) = %q", arn, got)
		}
	})
}

// FuzzTrailEvent: a CloudTrail record of any shape (its JSON is what
// CloudTrail says, and an account's own principals write into it) turns
// into usage or an event, or nothing, without panicking.
func FuzzTrailEvent(f *testing.F) {
	f.Add(`{"eventName":"Decrypt","userIdentity":{"arn":"arn:aws:iam::1:role/r","invokedBy":"s3.amazonaws.com"}}`, "Decrypt", "arn:aws:kms:eu-west-1:1:key/0f1e2d3c-4b5a-4697-8877-66554433aa01")
	f.Add(`{"eventName":"DisableKey","sourceIPAddress":"198.51.100.7"}`, "", "arn:aws:kms:eu-west-1:1:key/mrk-1234")
	f.Add(`not json`, "PutKeyPolicy", "")
	f.Fuzz(func(t *testing.T, record, name, resource string) {
		a := &Account{}
		at := time.Unix(1_780_000_000, 0)
		e := cttypes.Event{CloudTrailEvent: &record, EventName: &name, EventTime: &at,
			Resources: []cttypes.Resource{{ResourceType: sdkaws.String("AWS::KMS::Key"), ResourceName: &resource}}}
		var page cloud.LogPage
		use := map[useKey]*engine.Usage{}
		a.trailEvent(e, &page, use)
		for _, u := range use {
			if u.Application == "" || u.Encrypts+u.Decrypts == 0 {
				t.Fatalf("a usage row %+v", u)
			}
		}
		for _, ev := range page.Events {
			if !isKeyID(ev.Key) && !strings.HasPrefix(ev.Key, "mrk-") {
				t.Fatalf("an event of key %q", ev.Key)
			}
		}
	})
}
