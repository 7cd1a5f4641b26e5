package aws

import (
	"bufio"
	"bytes"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Settings is one [[aws]] section: one AWS account in one region. An
// account administered in several regions is several sections (each a
// source with its own name, sync and errors), so a region that is down
// or refuses the credential degrades only itself.
type Settings struct {
	Name string `toml:"name"`
	// Partition is aws (default), aws-us-gov or aws-cn; the region must
	// belong to it.
	Partition string `toml:"partition"`
	Region    string `toml:"region"`
	// Credential is default (the SDK's chain: environment, shared files,
	// web identity, SSO, container and instance roles), profile, static
	// or web-identity; empty picks static when static_keys_file is set,
	// profile when profile is, web-identity when web_identity_token_file
	// is, else default.
	Credential string `toml:"credential"`
	// Profile is the shared config/credentials profile (credential
	// "profile").
	Profile string `toml:"profile"`
	// StaticKeysFile holds aws_access_key_id, aws_secret_access_key and
	// optionally aws_session_token as key = value lines (mode 0600).
	StaticKeysFile string `toml:"static_keys_file"`
	// WebIdentityTokenFile is an OIDC token file (EKS/IRSA, a CI
	// runner's): with credential "web-identity", role_arn is assumed with
	// it (sts:AssumeRoleWithWebIdentity), the token read again at every
	// renewal.
	WebIdentityTokenFile string `toml:"web_identity_token_file"`
	// RoleARN, when set, is assumed (sts:AssumeRole) with the credential
	// above: cross-account administration. With credential
	// "web-identity" it is the role the token is exchanged for.
	RoleARN    string `toml:"role_arn"`
	ExternalID string `toml:"external_id"`
	// STSEndpoint is where role_arn is assumed (a regional or VPC STS
	// endpoint); empty: the SDK's regional STS endpoint.
	STSEndpoint string `toml:"sts_endpoint"`
	// Endpoint replaces the KMS endpoint (a VPC interface endpoint, a
	// FIPS endpoint; a loopback http URL only for local-kms in tests).
	Endpoint string `toml:"endpoint"`
	// HTTPSProxy sends every request of this source through the proxy.
	HTTPSProxy string `toml:"https_proxy"`
	// DeletionWindowDays is the waiting period of a scheduled deletion
	// (7–30, default 30).
	DeletionWindowDays int `toml:"deletion_window_days"`
	// RequestsPerSecond paces every request of this source (default 20):
	// the account's KMS request quota is shared with everything else in
	// the account and region, so a sync must never cause throttling.
	RequestsPerSecond int             `toml:"requests_per_second"`
	SyncInterval      engine.Duration `toml:"sync_interval"`
	// FullRefreshEvery describes every key again every n-th sync (default
	// 12); in between only new keys and keys whose aliases moved are.
	FullRefreshEvery int `toml:"full_refresh_every"`
	// CloudTrail reads the account's KMS events from CloudTrail
	// (LookupEvents) after every sync: who changed or used which key,
	// when (needs cloudtrail:LookupEvents).
	CloudTrail bool `toml:"cloudtrail"`
	// CloudTrailEndpoint replaces the CloudTrail endpoint (VPC or FIPS).
	CloudTrailEndpoint string `toml:"cloudtrail_endpoint"`
	// CloudTrailLookback is how far back the first read goes (default 1d,
	// at most 90d: what LookupEvents keeps).
	CloudTrailLookback engine.Duration `toml:"cloudtrail_lookback"`
}

// Lookback is how far back the first CloudTrail read goes.
func (a *Settings) Lookback() time.Duration {
	if a.CloudTrailLookback <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(a.CloudTrailLookback)
}

// Credential kinds.
const (
	CredDefault = cloud.CredDefault
	CredProfile = "profile"
	CredStatic  = "static"
	// CredWebIdentity exchanges web_identity_token_file for role_arn's
	// credentials (sts:AssumeRoleWithWebIdentity).
	CredWebIdentity = "web-identity"
)

// Partitions and the region prefix each one's regions carry.
const (
	PartitionAWS   = "aws"
	PartitionGov   = "aws-us-gov"
	PartitionChina = "aws-cn"
)

var (
	regionRE     = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]{1,2}$`)
	roleARNRE    = regexp.MustCompile(`^arn:(aws|aws-us-gov|aws-cn):iam::([0-9]{12}):role/[\w+=,.@/-]+$`)
	externalIDRE = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// PartitionName normalises a partition name ("" is aws).
func PartitionName(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", PartitionAWS:
		return PartitionAWS, nil
	case PartitionGov:
		return PartitionGov, nil
	case PartitionChina:
		return PartitionChina, nil
	}
	return "", fmt.Errorf("partition %q is not aws, aws-us-gov or aws-cn", s)
}

// regionPartition is the partition a region name belongs to.
func regionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return PartitionChina
	case strings.HasPrefix(region, "us-gov-"):
		return PartitionGov
	}
	return PartitionAWS
}

// CredentialKind is the credential the section uses.
func (a *Settings) CredentialKind() string {
	return cloud.CredentialKind(a.Credential, cloud.Implied{Value: a.StaticKeysFile, Kind: CredStatic},
		cloud.Implied{Value: a.Profile, Kind: CredProfile}, cloud.Implied{Value: a.WebIdentityTokenFile, Kind: CredWebIdentity})
}

// Interval is the sync interval (default 15 minutes).
func (a *Settings) Interval() time.Duration { return cloud.SyncEvery(a.SyncInterval) }

// DeletionWindow is the scheduled deletion's waiting period in days.
func (a *Settings) DeletionWindow() int32 {
	if a.DeletionWindowDays == 0 {
		return 30
	}
	return int32(a.DeletionWindowDays)
}

// PerSecond is the request pace (default 20 a second).
func (a *Settings) PerSecond() int {
	if a.RequestsPerSecond <= 0 {
		return 20
	}
	return a.RequestsPerSecond
}

// FullEvery is how often (in syncs) every key is described again.
func (a *Settings) FullEvery() int {
	if a.FullRefreshEvery <= 0 {
		return 12
	}
	return a.FullRefreshEvery
}

// SourceName is the section's name.
func (a *Settings) SourceName() string { return a.Name }

// Validate checks the section's values; problems are prefixed with prefix.
func (a *Settings) Validate(prefix string) []string {
	p := cloud.NewProblems(prefix)
	add := p.Add
	part, err := PartitionName(a.Partition)
	if err != nil {
		add("partition", "%v", err)
		part = ""
	}
	switch {
	case a.Region == "":
		add("region", "is required (e.g. \"eu-west-1\"; one [[aws]] section per account and region)")
	case !regionRE.MatchString(a.Region):
		add("region", "%q is not an AWS region name (e.g. eu-west-1, us-gov-west-1, cn-north-1)", a.Region)
	case part != "" && regionPartition(a.Region) != part:
		add("region", "%s is a region of the %s partition, not %s: set partition = %q", a.Region, regionPartition(a.Region), part, regionPartition(a.Region))
	}
	switch a.CredentialKind() {
	case CredDefault:
		if a.StaticKeysFile != "" {
			add("static_keys_file", "is only read with credential \"static\"")
		}
		if a.Profile != "" {
			add("profile", "is only read with credential \"profile\"")
		}
	case CredProfile:
		if a.Profile == "" {
			add("profile", "is required for credential \"profile\" (a profile of ~/.aws/config)")
		}
		if a.StaticKeysFile != "" {
			add("static_keys_file", "give profile or static_keys_file, not both")
		}
	case CredStatic:
		if a.StaticKeysFile == "" {
			add("static_keys_file", "is required for credential \"static\" (aws_access_key_id and aws_secret_access_key lines, mode 0600)")
		}
		if a.Profile != "" {
			add("profile", "give profile or static_keys_file, not both")
		}
	case CredWebIdentity:
		switch {
		case a.WebIdentityTokenFile == "":
			add("web_identity_token_file", "is required for credential \"web-identity\" (the OIDC token file, e.g. /var/run/secrets/eks.amazonaws.com/serviceaccount/token)")
		case !filepath.IsAbs(a.WebIdentityTokenFile):
			add("web_identity_token_file", "%q must be an absolute path (the daemon's working directory is not yours)", a.WebIdentityTokenFile)
		}
		if a.RoleARN == "" {
			add("role_arn", "is required for credential \"web-identity\" (the role the token is exchanged for)")
		}
		if a.ExternalID != "" {
			add("external_id", "is not sent with a web identity (sts:AssumeRoleWithWebIdentity has none; the role's trust policy checks the token's audience and subject instead)")
		}
		if a.StaticKeysFile != "" || a.Profile != "" {
			add("credential", "web-identity takes no profile or static_keys_file")
		}
	default:
		add("credential", "%q is not one of default, profile, static, web-identity", a.Credential)
	}
	if a.WebIdentityTokenFile != "" && a.CredentialKind() != CredWebIdentity {
		add("web_identity_token_file", "is only read with credential \"web-identity\"")
	}
	if a.RoleARN != "" {
		m := roleARNRE.FindStringSubmatch(a.RoleARN)
		switch {
		case m == nil:
			add("role_arn", "%q is not an IAM role ARN (arn:aws:iam::123456789012:role/KeywardAdmin)", a.RoleARN)
		case part != "" && m[1] != part:
			add("role_arn", "the role is in the %s partition, the section in %s", m[1], part)
		}
	}
	if a.ExternalID != "" {
		switch {
		case a.RoleARN == "":
			add("external_id", "is only sent when assuming role_arn")
		case a.CredentialKind() == CredWebIdentity:
			// said above
		case len(a.ExternalID) < 2 || len(a.ExternalID) > 1224 || !externalIDRE.MatchString(a.ExternalID):
			add("external_id", "must be 2 to 1224 letters, digits or +=,.@:/-_ (the value the role's trust policy expects)")
		}
	}
	if a.Endpoint != "" {
		if msg := checkEndpoint(a.Endpoint); msg != "" {
			add("endpoint", "%s", msg)
		}
	}
	if a.STSEndpoint != "" {
		if a.RoleARN == "" {
			add("sts_endpoint", "is only used to assume role_arn")
		} else if msg := checkEndpoint(a.STSEndpoint); msg != "" {
			add("sts_endpoint", "%s", msg)
		}
	}
	p.HTTPSProxy(a.HTTPSProxy)
	if a.DeletionWindowDays != 0 && (a.DeletionWindowDays < 7 || a.DeletionWindowDays > 30) {
		add("deletion_window_days", "%d is outside AWS's 7 to 30 days (default 30)", a.DeletionWindowDays)
	}
	if a.RequestsPerSecond < 0 || a.RequestsPerSecond > 10000 {
		add("requests_per_second", "%d is outside 1 to 10000 (default 20)", a.RequestsPerSecond)
	}
	if a.CloudTrailEndpoint != "" {
		if !a.CloudTrail {
			add("cloudtrail_endpoint", "is only used with cloudtrail = true")
		} else if msg := checkEndpoint(a.CloudTrailEndpoint); msg != "" {
			add("cloudtrail_endpoint", "%s", msg)
		}
	}
	if a.CloudTrailLookback < 0 || time.Duration(a.CloudTrailLookback) > 90*24*time.Hour {
		add("cloudtrail_lookback", "%s is outside 0 to 90d (CloudTrail's event history keeps 90 days; default 1d)", a.CloudTrailLookback)
	}
	p.FullRefreshEvery(a.FullRefreshEvery)
	p.SyncInterval(a.SyncInterval)
	return p.List
}

// checkEndpoint explains what is wrong with an endpoint URL ("" if fine).
func checkEndpoint(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not a URL (https://vpce-0abc-kms.eu-west-1.vpce.amazonaws.com)", s)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Sprintf("%q must not have a path", s)
	}
	if u.Scheme == "https" {
		return ""
	}
	if u.Scheme == "http" && cloud.IsLoopback(u.Hostname()) {
		return "" // local-kms in tests and the demo
	}
	return fmt.Sprintf("%q must use https (plain http only to a loopback emulator)", s)
}

// StaticKeys is what a static_keys_file holds.
type StaticKeys struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// ParseStaticKeys reads key = value lines (the shared credentials file's
// spelling; # and ; start comments, a [profile] header is ignored). The
// error names the line, never a value.
func ParseStaticKeys(b []byte) (StaticKeys, error) {
	var k StaticKeys
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || (line[0] == '[' && strings.HasSuffix(line, "]")) {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return StaticKeys{}, fmt.Errorf("line %d is not key = value", n)
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		var dst *string
		switch key {
		case "aws_access_key_id":
			dst = &k.AccessKeyID
		case "aws_secret_access_key":
			dst = &k.SecretAccessKey
		case "aws_session_token":
			dst = &k.SessionToken
		default:
			// The key is not echoed: a secret pasted on the wrong side
			// of the = would be.
			return StaticKeys{}, fmt.Errorf("line %d: unknown key (want aws_access_key_id, aws_secret_access_key, aws_session_token)", n)
		}
		if *dst != "" {
			return StaticKeys{}, fmt.Errorf("line %d: %s given twice", n, key)
		}
		if val == "" {
			return StaticKeys{}, fmt.Errorf("line %d: %s is empty", n, key)
		}
		*dst = val
	}
	if err := sc.Err(); err != nil {
		return StaticKeys{}, fmt.Errorf("unreadable: %w", err)
	}
	if k.AccessKeyID == "" || k.SecretAccessKey == "" {
		return StaticKeys{}, fmt.Errorf("needs aws_access_key_id and aws_secret_access_key")
	}
	return k, nil
}
