// Package aws connects keyward to AWS KMS through aws-sdk-go-v2: the
// cloud.Connector for one account in one region of the aws, aws-us-gov or
// aws-cn partition, its credentials (the SDK's chain, a profile, static
// keys, an assumed role with an external ID), and the mapping of KMS keys
// onto the inventory.
package aws

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Account is the connector for one AWS account in one region.
type Account struct {
	cfg       Settings
	partition string
	client    *kms.Client
	view      *view
	// trail reads the account's KMS events (nil unless cloudtrail = true).
	trail *cloudtrail.Client
}

var _ cloud.Connector = (*Account)(nil)

// New returns the connector for the [[aws]] section cfg, which must have
// passed config validation. It reads the static keys file (which must be
// mode 0600) but calls no AWS API. The SDK's own warnings go to logger
// (nil: dropped), never to stderr, where they would draw over the TUI.
func New(ctx context.Context, cfg Settings, logger *slog.Logger) (*Account, error) {
	part, err := PartitionName(cfg.Partition)
	if err != nil {
		return nil, fmt.Errorf("aws %s: %w", cfg.Name, err)
	}
	httpClient := awshttp.NewBuildableClient().WithTimeout(30 * time.Second)
	if cfg.HTTPSProxy != "" {
		pu, err := url.Parse(cfg.HTTPSProxy)
		if err != nil {
			return nil, fmt.Errorf("aws %s: https_proxy: %w", cfg.Name, err)
		}
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) { tr.Proxy = http.ProxyURL(pu) })
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithHTTPClient(httpClient),
		// Throttling and 5xx answers are retried by the SDK's standard
		// retryer with its exponential backoff and retry quota.
		config.WithRetryMode(sdkaws.RetryModeStandard),
		config.WithRetryMaxAttempts(5),
		// "app/keyward" in every request's User-Agent: CloudTrail shows
		// it, so keyward's own calls are told from everyone else's.
		config.WithAppID(AppID),
		// The SDK's default logger writes to stderr ("SDK … WARN failed
		// to discard remaining HTTP response body"); the daemon's logger
		// is where an administrator reads the rest.
		config.WithLogger(sdkLogger(logger, cfg.Name)),
	}
	switch cfg.CredentialKind() {
	case CredProfile:
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	case CredStatic:
		keys, err := readStaticKeys(cfg.StaticKeysFile)
		if err != nil {
			return nil, fmt.Errorf("aws %s: %w", cfg.Name, err)
		}
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(keys.AccessKeyID, keys.SecretAccessKey, keys.SessionToken)))
	case CredWebIdentity:
		if err := checkTokenFile(cfg.WebIdentityTokenFile); err != nil {
			return nil, fmt.Errorf("aws %s: %w", cfg.Name, err)
		}
		// No other credential: AssumeRoleWithWebIdentity is an unsigned
		// call, and nothing of the environment may stand in for the
		// token if it fails.
		opts = append(opts, config.WithCredentialsProvider(sdkaws.AnonymousCredentials{}))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws %s: load the AWS configuration (credential %q): %w", cfg.Name, cfg.CredentialKind(), err)
	}
	// Paced after loading, so the SDK can still add a custom CA bundle
	// (AWS_CA_BUNDLE, ca_bundle) to the transport.
	transport := awsCfg.HTTPClient
	awsCfg.HTTPClient = newPacedClient(transport, cfg.PerSecond())
	if cfg.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
			if cfg.STSEndpoint != "" {
				o.BaseEndpoint = sdkaws.String(strings.TrimSuffix(cfg.STSEndpoint, "/"))
			}
		})
		var prov sdkaws.CredentialsProvider
		if cfg.CredentialKind() == CredWebIdentity {
			// The token file is read again at every renewal: EKS and CI
			// runners replace it before it expires.
			prov = stscreds.NewWebIdentityRoleProvider(stsClient, cfg.RoleARN, stscreds.IdentityTokenFile(cfg.WebIdentityTokenFile),
				func(o *stscreds.WebIdentityRoleOptions) { o.RoleSessionName = "keyward-" + cfg.Name })
		} else {
			prov = stscreds.NewAssumeRoleProvider(stsClient, cfg.RoleARN, func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = "keyward-" + cfg.Name
				if cfg.ExternalID != "" {
					o.ExternalID = sdkaws.String(cfg.ExternalID)
				}
			})
		}
		awsCfg.Credentials = sdkaws.NewCredentialsCache(prov)
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = sdkaws.String(strings.TrimSuffix(cfg.Endpoint, "/"))
		}
	})
	a := &Account{cfg: cfg, partition: part, client: client}
	if cfg.CloudTrail {
		// LookupEvents has its own quota: 2 requests a second per account
		// and region.
		trailCfg := awsCfg.Copy()
		trailCfg.HTTPClient = newPacedClient(transport, min(2, cfg.PerSecond()))
		a.trail = cloudtrail.NewFromConfig(trailCfg, func(o *cloudtrail.Options) {
			if cfg.CloudTrailEndpoint != "" {
				o.BaseEndpoint = sdkaws.String(strings.TrimSuffix(cfg.CloudTrailEndpoint, "/"))
			}
		})
	}
	a.view = newView(a, cfg.FullEvery())
	return a, nil
}

// sdkLogger turns the SDK's log lines into the daemon's: WARN at Warn,
// DEBUG at Debug, with the source named. No request or response bodies
// are logged (the SDK's ClientLogMode stays off), so no key material can
// reach the log through it.
func sdkLogger(logger *slog.Logger, source string) logging.Logger {
	if logger == nil {
		return logging.Nop{}
	}
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		level := slog.LevelDebug
		if c == logging.Warn {
			level = slog.LevelWarn
		}
		logger.Log(context.Background(), level, "AWS SDK: "+fmt.Sprintf(format, v...), "source", source)
	})
}

// readStaticKeys reads a static_keys_file, refusing one that others can
// read.
func readStaticKeys(path string) (StaticKeys, error) {
	b, err := cloud.ReadPrivateFile("static_keys_file", path, "a secret access key")
	if err != nil {
		return StaticKeys{}, err
	}
	defer clear(b)
	k, err := ParseStaticKeys(b)
	if err != nil {
		return StaticKeys{}, fmt.Errorf("static_keys_file %s: %w", path, err)
	}
	return k, nil
}

// checkTokenFile checks at start that a web identity token file can be
// read and is not empty; its content (a bearer token) is never echoed.
func checkTokenFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("web_identity_token_file: %w", err)
	}
	defer clear(b)
	if len(bytes.TrimSpace(b)) == 0 {
		return fmt.Errorf("web_identity_token_file %s is empty (the OIDC token is written there by EKS, a CI runner or your identity provider)", path)
	}
	return nil
}

// NewSource returns the synchronised source of one [[aws]] section.
func NewSource(cfg Settings, logger *slog.Logger) (*cloud.SyncSource, error) {
	a, err := New(context.Background(), cfg, logger)
	if err != nil {
		return nil, err
	}
	// The account's view decides which keys to describe again (view.go).
	return cloud.NewViewSource(cfg.Name, a, cfg.Interval(), logger), nil
}

// Kind is "aws".
func (a *Account) Kind() string { return "aws" }

// Address names the account's KMS endpoint: the custom endpoint, or the
// partition and region.
func (a *Account) Address() string {
	if a.cfg.Endpoint != "" {
		return strings.TrimSuffix(a.cfg.Endpoint, "/") + " (" + a.cfg.Region + ")"
	}
	return "kms:" + a.partition + ":" + a.cfg.Region
}

// Geography is the partition: nothing crosses a partition.
func (a *Account) Geography() string { return a.partition }

// Capabilities: AWS cannot export keys, so backup and restore are of the
// material keyward uploads (its sealed copy, re-imported into the same
// key); an AWS-generated key says so (engine.TagUnsupported). AWS has no
// immediate purge (deletion is always scheduled 7–30 days out).
func (a *Account) Capabilities() cloud.Capabilities {
	return cloud.Capabilities{engine.CapCreate, engine.CapUpload, engine.CapUploadOct, engine.CapUpdate, engine.CapRotate,
		engine.CapDelete, engine.CapRecover, engine.CapRotationPolicy, engine.CapBackup, engine.CapRestore, engine.CapDeleteMaterial, engine.CapMaterialExpiry}
}

// Purge is refused: AWS deletes a key only when its scheduled deletion
// comes due.
func (a *Account) Purge(_ context.Context, name string) error {
	return &cloud.Error{Kind: cloud.ErrUnsupported, Op: "purge " + name,
		Reason: fmt.Sprintf("AWS has no immediate purge: deletion completes when the %d-day waiting period ends", a.cfg.DeletionWindow())}
}

// keyRef is what KMS accepts for a keyward name: key IDs, multi-Region
// key IDs and ARNs as they are, anything else as an alias.
func keyRef(name string) string {
	switch {
	case strings.HasPrefix(name, "arn:"), strings.HasPrefix(name, "alias/"), strings.HasPrefix(name, "mrk-"), isKeyID(name):
		return name
	}
	return "alias/" + name
}

func isKeyID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}
