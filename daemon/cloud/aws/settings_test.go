package aws

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
)

func TestSettingsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		s    Settings
		want string // "" = valid
	}{
		{"minimal", Settings{Name: "a", Region: "eu-west-1"}, ""},
		{"gov", Settings{Name: "a", Partition: "aws-us-gov", Region: "us-gov-west-1", RoleARN: "arn:aws-us-gov:iam::123456789012:role/KeywardAdmin", ExternalID: "kw-4711"}, ""},
		{"china", Settings{Name: "a", Partition: "aws-cn", Region: "cn-north-1", Profile: "cn"}, ""},
		{"no region", Settings{Name: "a"}, "x.region: is required"},
		{"bad region", Settings{Name: "a", Region: "Europe"}, `x.region: "Europe" is not an AWS region name`},
		{"region of another partition", Settings{Name: "a", Region: "cn-north-1"}, `cn-north-1 is a region of the aws-cn partition, not aws: set partition = "aws-cn"`},
		{"bad partition", Settings{Name: "a", Partition: "azure", Region: "eu-west-1"}, `x.partition: partition "azure" is not aws, aws-us-gov or aws-cn`},
		{"static without file", Settings{Name: "a", Region: "eu-west-1", Credential: "static"}, "x.static_keys_file: is required"},
		{"profile and file", Settings{Name: "a", Region: "eu-west-1", Profile: "p", StaticKeysFile: "/f"}, "give profile or static_keys_file, not both"},
		{"unknown credential", Settings{Name: "a", Region: "eu-west-1", Credential: "web"}, `x.credential: "web" is not one of default, profile, static, web-identity`},
		{"web identity", Settings{Name: "a", Region: "eu-west-1", WebIdentityTokenFile: "/var/run/secrets/token", RoleARN: "arn:aws:iam::123456789012:role/R"}, ""},
		{"web identity without role", Settings{Name: "a", Region: "eu-west-1", WebIdentityTokenFile: "/var/run/secrets/token"}, `x.role_arn: is required for credential "web-identity"`},
		{"web identity without token", Settings{Name: "a", Region: "eu-west-1", Credential: "web-identity", RoleARN: "arn:aws:iam::123456789012:role/R"}, `x.web_identity_token_file: is required`},
		{"web identity relative", Settings{Name: "a", Region: "eu-west-1", WebIdentityTokenFile: "token", RoleARN: "arn:aws:iam::123456789012:role/R"}, `must be an absolute path`},
		{"web identity external id", Settings{Name: "a", Region: "eu-west-1", WebIdentityTokenFile: "/t", RoleARN: "arn:aws:iam::123456789012:role/R", ExternalID: "abc"}, `x.external_id: is not sent with a web identity`},
		{"token with static", Settings{Name: "a", Region: "eu-west-1", StaticKeysFile: "/f", WebIdentityTokenFile: "/t"}, `x.web_identity_token_file: is only read with credential "web-identity"`},
		{"role partition", Settings{Name: "a", Region: "eu-west-1", RoleARN: "arn:aws-cn:iam::123456789012:role/R"}, "the role is in the aws-cn partition, the section in aws"},
		{"bad role", Settings{Name: "a", Region: "eu-west-1", RoleARN: "arn:aws:iam::12:user/bob"}, "is not an IAM role ARN"},
		{"external id alone", Settings{Name: "a", Region: "eu-west-1", ExternalID: "abc"}, "x.external_id: is only sent when assuming role_arn"},
		{"external id chars", Settings{Name: "a", Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/R", ExternalID: "a b"}, "x.external_id: must be 2 to 1224"},
		{"http endpoint", Settings{Name: "a", Region: "eu-west-1", Endpoint: "http://kms.example.com"}, "must use https (plain http only to a loopback emulator)"},
		{"loopback endpoint", Settings{Name: "a", Region: "eu-west-1", Endpoint: "http://127.0.0.1:4599"}, ""},
		{"endpoint path", Settings{Name: "a", Region: "eu-west-1", Endpoint: "https://kms.example.com/x"}, "must not have a path"},
		{"proxy", Settings{Name: "a", Region: "eu-west-1", HTTPSProxy: "proxy:3128"}, `x.https_proxy: "proxy:3128" is not a proxy URL`},
		{"profile with default", Settings{Name: "a", Region: "eu-west-1", Credential: "default", Profile: "p"}, `x.profile: is only read with credential "profile"`},
		{"window", Settings{Name: "a", Region: "eu-west-1", DeletionWindowDays: 5}, "x.deletion_window_days: 5 is outside AWS's 7 to 30 days"},
		{"cloudtrail", Settings{Name: "a", Region: "eu-west-1", CloudTrail: true, CloudTrailEndpoint: "https://cloudtrail.eu-west-1.amazonaws.com", CloudTrailLookback: engine.Duration(7 * 24 * time.Hour)}, ""},
		{"cloudtrail endpoint alone", Settings{Name: "a", Region: "eu-west-1", CloudTrailEndpoint: "https://cloudtrail.eu-west-1.amazonaws.com"}, "x.cloudtrail_endpoint: is only used with cloudtrail = true"},
		{"cloudtrail http endpoint", Settings{Name: "a", Region: "eu-west-1", CloudTrail: true, CloudTrailEndpoint: "http://ct.example.com"}, "x.cloudtrail_endpoint: \"http://ct.example.com\" must use https"},
		{"cloudtrail lookback", Settings{Name: "a", Region: "eu-west-1", CloudTrail: true, CloudTrailLookback: engine.Duration(91 * 24 * time.Hour)}, "x.cloudtrail_lookback: 91d is outside 0 to 90d"},
	} {
		errs := c.s.Validate("x")
		got := strings.Join(errs, "\n")
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestStaticKeysFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keys")
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	os.WriteFile(p, []byte("[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = "+secret+"\n"), 0o644)
	cfg := Settings{Name: "a", Region: "eu-west-1", StaticKeysFile: p}
	if _, err := New(context.Background(), cfg, nil); err == nil || !strings.Contains(err.Error(), "has mode 0644") || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable keys file: %v", err)
	}
	os.Chmod(p, 0o600)
	if _, err := New(context.Background(), cfg, nil); err != nil {
		t.Errorf("a 0600 keys file: %v", err)
	}
	for _, bad := range []string{"aws_access_key_id=A\n", "aws_secret_access_key " + secret + "\n", "aws_access_key_id=A\naws_secret_access_key=" + secret + "\nregion=eu-west-1\n",
		"aws_access_key_id=A\naws_access_key_id=B\n", secret + " = x\n"} {
		_, err := ParseStaticKeys([]byte(bad))
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows the secret: %v", err)
		}
	}
}

func FuzzParseStaticKeys(f *testing.F) {
	f.Add([]byte("aws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\n"))
	f.Add([]byte("[p]\n# c\n; c\naws_access_key_id=A\n"))
	f.Add([]byte("=\n==\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseStaticKeys(b)
		if err == nil && (k.AccessKeyID == "" || k.SecretAccessKey == "") {
			t.Fatalf("accepted without both keys: %q", b)
		}
		if err != nil && k != (StaticKeys{}) {
			t.Fatalf("an error with keys: %q", b)
		}
	})
}
