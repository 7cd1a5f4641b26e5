// Package azure connects keyward to Azure Key Vault through azkeys: the
// cloud.Connector for one vault, its credentials through azidentity, and
// the endpoints of the public, US Government and China clouds.
package azure

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/engine"
)

// Cloud is one Azure cloud's endpoints (the seed's whitelist tables).
type Cloud struct {
	Name        string
	Login       string // Entra ID authority host
	VaultSuffix string // key vaults are https://<name>.<VaultSuffix>
	HSMSuffix   string // managed HSMs ("" where not offered)
	config      azcloud.Configuration
}

// Clouds are the supported Azure clouds by config name.
var Clouds = map[string]Cloud{
	"public":       {Name: "public", Login: "login.microsoftonline.com", VaultSuffix: "vault.azure.net", HSMSuffix: "managedhsm.azure.net", config: azcloud.AzurePublic},
	"usgovernment": {Name: "usgovernment", Login: "login.microsoftonline.us", VaultSuffix: "vault.usgovcloudapi.net", config: azcloud.AzureGovernment},
	"china":        {Name: "china", Login: "login.chinacloudapi.cn", VaultSuffix: "vault.azure.cn", config: azcloud.AzureChina},
}

// Vault is the connector for one Azure Key Vault (or Managed HSM).
type Vault struct {
	cfg       Settings
	url       string
	cloud     Cloud
	geography string
	hsm       bool
	client    *azkeys.Client
	timeout   time.Duration
	// retries is how many times a request is sent again after a 5xx or no
	// answer (the SDK's retry policy; once for what must not be done twice).
	retries int
	// ahead is how far the vault's clock runs ahead of keyward's (behind
	// when negative), from its last answer's Date header (CloudNow).
	ahead atomic.Int64
}

var _ cloud.CloudClock = (*Vault)(nil)

// CloudNow is the vault's time now, as its last answer's Date header
// showed it: Updated times are stamped by that clock.
func (v *Vault) CloudNow() time.Time { return time.Now().Add(time.Duration(v.ahead.Load())) }

// vaultClock is the pipeline policy that reads the vault's clock from
// every answer's Date header (whole seconds: the middle of the second is
// taken).
type vaultClock struct{ v *Vault }

func (c vaultClock) Do(req *policy.Request) (*http.Response, error) {
	resp, err := req.Next()
	if err == nil {
		if d, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			c.v.ahead.Store(int64(time.Until(d.Add(500 * time.Millisecond))))
		}
	}
	return resp, err
}

// Option adjusts New.
type Option func(*options)

type options struct {
	cred      azcore.TokenCredential
	pool      *x509.CertPool
	authority string
	timeout   time.Duration
	retries   int
}

// WithCredential uses cred instead of the one the configuration describes
// (tests, or a caller that already holds a credential).
func WithCredential(cred azcore.TokenCredential) Option { return func(o *options) { o.cred = cred } }

// WithRootCAs trusts pool for the vault's TLS certificate (the emulator).
func WithRootCAs(pool *x509.CertPool) Option { return func(o *options) { o.pool = pool } }

// WithAuthority sends the credential's token requests to authority (an
// Entra ID authority host URL such as an Azure Stack AD FS or a test
// identity provider) instead of the cloud's, trusting the same roots as
// the vault, without instance discovery.
func WithAuthority(authority string) Option { return func(o *options) { o.authority = authority } }

// WithTimeout bounds each request (default 30 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetries sets how often a failed request is retried on 408/5xx
// (default 2; 429 is never retried here, the sync source waits Retry-After).
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

var _ cloud.Connector = (*Vault)(nil)

// New returns the connector for the [[azure]] section cfg, which must
// have passed config validation.
func New(cfg Settings, opts ...Option) (*Vault, error) {
	o := options{timeout: 30 * time.Second, retries: 2}
	for _, f := range opts {
		f(&o)
	}
	cl, err := cloudOf(cfg.Cloud)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.VaultURL)
	if err != nil {
		return nil, fmt.Errorf("azure %s: vault_url: %w", cfg.Name, err)
	}
	if o.pool == nil && cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("azure %s: ca_file: %w", cfg.Name, err)
		}
		o.pool = x509.NewCertPool()
		if !o.pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("azure %s: ca_file %s holds no PEM certificate", cfg.Name, cfg.CAFile)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: o.pool, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 8
	if o.cred == nil {
		co := azcore.ClientOptions{Cloud: cl.config, Transport: &http.Client{Transport: tr, Timeout: o.timeout}}
		if o.authority != "" {
			co.Cloud.ActiveDirectoryAuthorityHost = o.authority
		}
		o.cred, err = credential(cfg, co, o.authority != "")
		if err != nil {
			return nil, fmt.Errorf("azure %s: %w", cfg.Name, err)
		}
	}
	v := &Vault{cfg: cfg, url: strings.TrimSuffix(cfg.VaultURL, "/"), cloud: cl, geography: cfg.Geography, timeout: o.timeout, retries: max(o.retries, 0),
		hsm: cl.HSMSuffix != "" && strings.HasSuffix(u.Hostname(), "."+cl.HSMSuffix) || cloud.IsLoopback(u.Hostname())}
	copts := &azkeys.ClientOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:            cl.config,
			Transport:        &http.Client{Transport: tr},
			PerRetryPolicies: []policy.Policy{vaultClock{v}},
			Retry: policy.RetryOptions{MaxRetries: int32(o.retries), RetryDelay: 500 * time.Millisecond, MaxRetryDelay: 5 * time.Second,
				StatusCodes: []int{http.StatusRequestTimeout, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}},
			Telemetry: policy.TelemetryOptions{Disabled: true},
		},
		// A loopback vault (the emulator) cannot match vault.azure.net.
		DisableChallengeResourceVerification: cloud.IsLoopback(u.Hostname()),
	}
	if o.retries < 0 {
		copts.Retry.MaxRetries = -1
	}
	v.client, err = azkeys.NewClient(v.url, tokenGuard{o.cred}, copts)
	if err != nil {
		return nil, fmt.Errorf("azure %s: %w", cfg.Name, err)
	}
	return v, nil
}

func cloudOf(name string) (Cloud, error) {
	n, err := CloudName(name)
	if err != nil {
		return Cloud{}, err
	}
	return Clouds[n], nil
}

// credential builds the azidentity credential the section names.
func credential(cfg Settings, co azcore.ClientOptions, noDiscovery bool) (azcore.TokenCredential, error) {
	switch cfg.CredentialKind() {
	case CredSecret:
		b, err := os.ReadFile(cfg.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("client_secret_file: %w", err)
		}
		secret := strings.TrimSpace(string(b))
		clear(b)
		if secret == "" {
			return nil, fmt.Errorf("client_secret_file %s is empty", cfg.SecretFile)
		}
		return azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
	case CredCertificate:
		b, err := os.ReadFile(cfg.CertFile)
		if err != nil {
			return nil, fmt.Errorf("client_cert_file: %w", err)
		}
		defer clear(b)
		certs, key, err := azidentity.ParseCertificates(b, nil)
		if err != nil {
			return nil, fmt.Errorf("client_cert_file %s: %w (want PEM with the certificate and an unencrypted private key)", cfg.CertFile, err)
		}
		return azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
	case CredManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if cfg.ClientID != "" {
			mo.ID = azidentity.ClientID(cfg.ClientID)
		}
		return azidentity.NewManagedIdentityCredential(mo)
	case CredEmulator:
		b, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("token_file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return nil, fmt.Errorf("token_file %s is empty", cfg.TokenFile)
		}
		return StaticToken(tok), nil
	default:
		return azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: co, TenantID: cfg.TenantID, DisableInstanceDiscovery: noDiscovery})
	}
}

// tokenGuard marks errors of the credential, so a refused credential is
// never mistaken for a vault that is down.
type tokenGuard struct{ azcore.TokenCredential }

type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get an access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func (g tokenGuard) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := g.TokenCredential.GetToken(ctx, o)
	if err != nil && ctx.Err() == nil {
		return tok, &tokenError{err}
	}
	return tok, err
}

// StaticToken is a bearer token credential for the emulated vault (the
// "emulator" credential, allowed only for loopback vault URLs): there is
// no Entra ID to ask.
type StaticToken string

// GetToken returns the token, valid for an hour.
func (t StaticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Kind is "azure".
func (v *Vault) Kind() string { return "azure" }

// Address is the vault URL.
func (v *Vault) Address() string { return v.url }

// Geography is the configured geography, or the cloud's name.
func (v *Vault) Geography() string {
	if v.geography != "" {
		return v.cloud.Name + "/" + v.geography
	}
	return v.cloud.Name
}

// Capabilities: everything; symmetric upload only on a Managed HSM (and
// the emulator, which behaves like one).
func (v *Vault) Capabilities() cloud.Capabilities {
	c := cloud.Capabilities{engine.CapCreate, engine.CapUpload, engine.CapRotate, engine.CapUpdate, engine.CapDelete, engine.CapRecover,
		engine.CapPurge, engine.CapBackup, engine.CapRestore, engine.CapRotationPolicy, engine.CapDates,
		engine.CapVersionEnable}
	if v.hsm {
		c = append(c, engine.CapUploadOct)
	}
	return c
}

func (v *Vault) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, v.timeout)
}

// maxPages bounds one listing: 25,000 pages of Key Vault's 25 entries,
// 625,000 keys or versions.
const maxPages = 25000

// eachPage walks pager p, each page fetched within the request timeout
// and handed to page; a failed fetch is classified under op. next tells a
// page's nextLink and how many entries it holds, for the guard that ends
// a listing paging for ever (cloud.PageGuard).
func eachPage[T any](ctx context.Context, v *Vault, op string, p *runtime.Pager[T], next func(T) (link *string, entries int), page func(T) error) error {
	guard := cloud.NewPageGuard("the vault", op, maxPages)
	for p.More() {
		c, cancel := v.ctx(ctx)
		resp, err := p.NextPage(c)
		cancel()
		if err != nil {
			return v.classify(op, err)
		}
		link, entries := next(resp)
		if link == nil {
			link = new(string)
		}
		if err := guard.Page(entries, *link); err != nil {
			return err
		}
		if err := page(resp); err != nil {
			return err
		}
	}
	return nil
}

// bundleCall runs one request answered with a key bundle, within the
// request timeout, and reads the bundle as a key version; a failure is
// classified under op.
func (v *Vault) bundleCall(ctx context.Context, op string, do func(context.Context) (azkeys.KeyBundle, error)) (cloud.KeyVersion, error) {
	b, err := call(ctx, v, op, do)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	return v.fromBundle(op, b)
}

// call runs one request within the request timeout; a failure is
// classified under op.
func call[T any](ctx context.Context, v *Vault, op string, do func(context.Context) (T, error)) (T, error) {
	c, cancel := v.ctx(ctx)
	defer cancel()
	out, err := do(c)
	if err != nil {
		var none T
		return none, v.classify(op, err)
	}
	return out, nil
}

// ListKeys pages through the live keys.
func (v *Vault) ListKeys(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	return eachPage(ctx, v, "list keys", v.client.NewListKeyPropertiesPager(nil), func(r azkeys.ListKeyPropertiesResponse) (*string, int) {
		return r.NextLink, len(r.Value)
	}, func(resp azkeys.ListKeyPropertiesResponse) error {
		items := make([]cloud.KeyVersion, 0, len(resp.Value))
		for _, kp := range resp.Value {
			kv, err := fromProperties(kp)
			if err != nil {
				return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list keys", Reason: err.Error()}
			}
			items = append(items, kv)
		}
		return page(items)
	})
}

// ListDeleted pages through the soft-deleted keys.
func (v *Vault) ListDeleted(ctx context.Context, page func([]cloud.KeyVersion) error) error {
	return eachPage(ctx, v, "list deleted keys", v.client.NewListDeletedKeyPropertiesPager(nil), func(r azkeys.ListDeletedKeyPropertiesResponse) (*string, int) {
		return r.NextLink, len(r.Value)
	}, func(resp azkeys.ListDeletedKeyPropertiesResponse) error {
		items := make([]cloud.KeyVersion, 0, len(resp.Value))
		for _, dk := range resp.Value {
			if dk == nil {
				return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list deleted keys", Reason: "null entry"}
			}
			kv, err := fromProperties(&azkeys.KeyProperties{KID: dk.KID, Attributes: dk.Attributes, Tags: dk.Tags, Managed: dk.Managed})
			if err != nil {
				return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list deleted keys", Reason: err.Error()}
			}
			kv.Deleted, kv.PurgeAt = utcPtr(dk.DeletedDate), utcPtr(dk.ScheduledPurgeDate)
			if kv.Deleted == nil {
				t := kv.Updated
				kv.Deleted = &t
			}
			items = append(items, kv)
		}
		return page(items)
	})
}

// Versions lists every version of a live key.
func (v *Vault) Versions(ctx context.Context, name string) ([]cloud.KeyVersion, error) {
	var out []cloud.KeyVersion
	err := eachPage(ctx, v, "list versions of "+name, v.client.NewListKeyPropertiesVersionsPager(name, nil), func(r azkeys.ListKeyPropertiesVersionsResponse) (*string, int) {
		return r.NextLink, len(r.Value)
	}, func(resp azkeys.ListKeyPropertiesVersionsResponse) error {
		for _, kp := range resp.Value {
			kv, err := fromProperties(kp)
			if err != nil {
				return &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "list versions of " + name, Reason: err.Error()}
			}
			out = append(out, kv)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Get reads one version ("" = current) with its key type and size.
func (v *Vault) Get(ctx context.Context, name, version string) (cloud.KeyVersion, error) {
	return v.bundleCall(ctx, "get "+name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.GetKey(c, name, version, nil)
		return resp.KeyBundle, err
	})
}

// Create generates a key in the vault.
func (v *Vault) Create(ctx context.Context, r cloud.CreateRequest) (cloud.KeyVersion, error) {
	p := azkeys.CreateKeyParameters{Kty: to.Ptr(azkeys.KeyType(r.Type)), Tags: ptrTags(r.Tags),
		KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(!r.Disabled), Expires: r.Expires, NotBefore: r.NotBefore}}
	if r.Type == "RSA" {
		p.KeySize = to.Ptr(int32(r.Size))
	} else {
		p.Curve = to.Ptr(azkeys.CurveName(r.Curve))
	}
	return v.newVersion(ctx, "create "+r.Name, "CreateKey", r.Name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.CreateKey(c, r.Name, p, nil)
		return resp.KeyBundle, err
	})
}

// newVersion sends do, a CreateKey, ImportKey or RotateKey (api) of the
// key name, once: each call makes a new version of the key, so the SDK's
// retry of one whose answer was lost made a second. When the answer is lost, the
// key is read: a current version other than the one before the call
// (none, for a new key) is the version the lost call made, adopted, and
// the result's Recovered says so; otherwise the call is sent again.
func (v *Vault) newVersion(ctx context.Context, op, api, name string, do func(context.Context) (azkeys.KeyBundle, error)) (cloud.KeyVersion, error) {
	before := ""
	switch kv, err := v.Get(ctx, name, ""); {
	case err == nil:
		before = kv.Version
	case !errors.Is(err, cloud.ErrNotFound):
		return cloud.KeyVersion{}, err
	}
	recovered := ""
	kv, err := v.once(ctx, op, do, func(ctx context.Context) (cloud.KeyVersion, bool) {
		now, err := v.Get(ctx, name, "")
		if err != nil || now.Version == before {
			return now, false
		}
		what := "the key it made: " + name + " version " + now.Version
		if before != "" {
			what = "the version it made: " + name + " version " + now.Version + " (the one before, " + before + ", stays)"
		}
		recovered = "the answer to " + api + " was lost; keyward found " + what + ", and made no second"
		return now, true
	})
	kv.Recovered = recovered
	return kv, err
}

// Import uploads key material; the JSON web key holding it is zeroed after
// the request.
func (v *Vault) Import(ctx context.Context, r cloud.ImportRequest) (cloud.KeyVersion, error) {
	jwk, err := toJWK(r)
	if err != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: "upload " + r.Name, Reason: err.Error()}
	}
	defer zeroJWK(jwk)
	p := azkeys.ImportKeyParameters{Key: jwk, Tags: ptrTags(r.Tags), KeyAttributes: &azkeys.KeyAttributes{Enabled: to.Ptr(true), Expires: r.Expires, NotBefore: r.NotBefore}}
	if r.Symmetric != nil {
		p.HSM = to.Ptr(true)
	}
	return v.newVersion(ctx, "upload "+r.Name, "ImportKey", r.Name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.ImportKey(c, r.Name, p, nil)
		return resp.KeyBundle, err
	})
}

// Rotate makes a new version, once: a rotate whose answer was lost after
// the vault made the version is found by reading the key, not sent again
// (newVersion).
func (v *Vault) Rotate(ctx context.Context, name string) (cloud.KeyVersion, error) {
	return v.newVersion(ctx, "rotate "+name, "RotateKey", name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.RotateKey(c, name, nil)
		return resp.KeyBundle, err
	})
}

// once sends a request that must not take effect twice (a rotation's
// second call makes a second version) without the SDK's blind retries
// (settle), and answers with the key the vault sent back, or with the
// one done found when the answer was lost.
func (v *Vault) once(ctx context.Context, op string, do func(context.Context) (azkeys.KeyBundle, error), done func(context.Context) (cloud.KeyVersion, bool)) (cloud.KeyVersion, error) {
	var b azkeys.KeyBundle
	var found *cloud.KeyVersion
	err := v.settle(ctx, op, func(c context.Context) (err error) {
		b, err = do(c)
		return err
	}, func(ctx context.Context) bool {
		kv, ok := done(ctx)
		if ok {
			found = &kv
		}
		return ok
	})
	switch {
	case err != nil:
		return cloud.KeyVersion{}, err
	case found != nil:
		return *found, nil
	}
	return v.fromBundle(op, b)
}

// settle sends a request without the SDK's retries. When its answer is
// lost (no answer, a timeout, a 5xx that a gateway may send after the
// vault did the work), done reads the vault and tells whether the
// request took effect; only when it did not is the request sent again,
// up to the configured retries.
func (v *Vault) settle(ctx context.Context, op string, send func(context.Context) error, done func(context.Context) bool) error {
	delay := 500 * time.Millisecond
	for attempt := 0; ; attempt++ {
		c, cancel := v.ctx(policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1}))
		err := send(c)
		cancel()
		if err == nil {
			return nil
		}
		if !answerLost(err) || ctx.Err() != nil {
			return v.classify(op, err)
		}
		if done(ctx) {
			return nil
		}
		if attempt == v.retries {
			return v.classify(op, err)
		}
		select {
		case <-ctx.Done():
			return v.classify(op, err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// answerLost reports whether err leaves open whether the vault did what
// was asked: no answer came, or a server error that may have followed the
// work. A refusal (4xx) or a token that could not be had means it did not.
func answerLost(err error) bool {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode >= 500 || re.StatusCode == http.StatusRequestTimeout
	}
	var te *tokenError
	var af *azidentity.AuthenticationFailedError
	return !errors.As(err, &te) && !errors.As(err, &af) && !errors.Is(err, context.Canceled)
}

// Update edits a version's attributes and tags.
func (v *Vault) Update(ctx context.Context, name, version string, u cloud.Update) (cloud.KeyVersion, error) {
	p := azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: u.Enabled, Expires: u.Expires, NotBefore: u.NotBefore}}
	if u.Tags != nil {
		p.Tags = map[string]*string{}
		for k, val := range u.Tags {
			p.Tags[k] = to.Ptr(val)
		}
	}
	return v.bundleCall(ctx, "update "+name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.UpdateKey(c, name, version, p, nil)
		return resp.KeyBundle, err
	})
}

// Delete soft-deletes a key, once: the SDK's retry of a DeleteKey whose
// answer was lost got 404 (the key is deleted) or 409 (its deletion is
// under way), a failure for a key that was deleted. A lost answer reads
// the deleted key: there, the delete is done (Recovered says so); not
// there, the delete is sent again.
func (v *Vault) Delete(ctx context.Context, name string) (cloud.KeyVersion, error) {
	op := "delete " + name
	var answered *azkeys.DeleteKeyResponse
	recovered := ""
	kv, err := v.once(ctx, op, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.DeleteKey(c, name, nil)
		if err != nil {
			return azkeys.KeyBundle{}, err
		}
		answered = &resp
		return azkeys.KeyBundle{Key: resp.Key, Attributes: resp.Attributes, Tags: resp.Tags}, nil
	}, func(ctx context.Context) (cloud.KeyVersion, bool) {
		kv, err := v.deletedKey(ctx, op, name)
		if err != nil {
			return kv, false
		}
		recovered = "the answer to DeleteKey was lost; keyward found the key deleted"
		if kv.PurgeAt != nil {
			recovered += ", purged after " + kv.PurgeAt.Format(time.RFC3339)
		}
		return kv, true
	})
	if err != nil {
		return kv, err
	}
	if answered != nil {
		kv.Deleted, kv.PurgeAt = utcPtr(answered.DeletedDate), utcPtr(answered.ScheduledPurgeDate)
	}
	kv.Recovered = recovered
	return kv, nil
}

// deletedKey reads a soft-deleted key (GetDeletedKey) with its deletion
// and purge dates.
func (v *Vault) deletedKey(ctx context.Context, op, name string) (cloud.KeyVersion, error) {
	c, cancel := v.ctx(ctx)
	defer cancel()
	resp, err := v.client.GetDeletedKey(c, name, nil)
	if err != nil {
		return cloud.KeyVersion{}, v.classify(op, err)
	}
	kv, err := v.fromBundle(op, azkeys.KeyBundle{Key: resp.Key, Attributes: resp.Attributes, Tags: resp.Tags})
	if err != nil {
		return kv, err
	}
	kv.Deleted, kv.PurgeAt = utcPtr(resp.DeletedDate), utcPtr(resp.ScheduledPurgeDate)
	return kv, nil
}

// Recover brings back a soft-deleted key.
//
// Once: the SDK's retry of a RecoverDeletedKey whose answer was lost got
// 404 (the deleted key is gone: recovered), a failure for a key that was
// recovered. A lost answer reads the key: there, it is recovered.
func (v *Vault) Recover(ctx context.Context, name string) (cloud.KeyVersion, error) {
	recovered := ""
	kv, err := v.once(ctx, "recover "+name, func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.RecoverDeletedKey(c, name, nil)
		return resp.KeyBundle, err
	}, func(ctx context.Context) (cloud.KeyVersion, bool) {
		kv, err := v.Get(ctx, name, "")
		if err != nil {
			return kv, false
		}
		recovered = "the answer to RecoverDeletedKey was lost; keyward found the key recovered"
		return kv, true
	})
	kv.Recovered = recovered
	return kv, err
}

// Purge removes a soft-deleted key for good.
//
// Once: the SDK's retry of a PurgeDeletedKey whose answer was lost got
// 404 (the deleted key is gone: purged), a failure for a key that was
// purged. A lost answer reads the deleted key: gone, it is purged.
func (v *Vault) Purge(ctx context.Context, name string) error {
	op := "purge " + name
	return v.settle(ctx, op, func(c context.Context) error {
		_, err := v.client.PurgeDeletedKey(c, name, nil)
		return err
	}, func(ctx context.Context) bool {
		_, err := v.deletedKey(ctx, op, name)
		return errors.Is(err, cloud.ErrNotFound)
	})
}

// Backup returns the vault's protected backup blob of a key.
func (v *Vault) Backup(ctx context.Context, name string) ([]byte, error) {
	c, cancel := v.ctx(ctx)
	defer cancel()
	resp, err := v.client.BackupKey(c, name, nil)
	if err != nil {
		return nil, v.classify("back up "+name, err)
	}
	if len(resp.Value) == 0 {
		return nil, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: "back up " + name, Reason: "empty backup blob"}
	}
	return resp.Value, nil
}

// Restore puts a backup blob back into the vault.
func (v *Vault) Restore(ctx context.Context, blob []byte) (cloud.KeyVersion, error) {
	return v.bundleCall(ctx, "restore", func(c context.Context) (azkeys.KeyBundle, error) {
		resp, err := v.client.RestoreKey(c, azkeys.RestoreKeyParameters{KeyBackup: blob}, nil)
		return resp.KeyBundle, err
	})
}

// RotationPolicy reads a key's rotation policy.
func (v *Vault) RotationPolicy(ctx context.Context, name string) (cloud.RotationPolicy, error) {
	return v.policyCall(ctx, "rotation policy of "+name, func(c context.Context) (azkeys.KeyRotationPolicy, error) {
		resp, err := v.client.GetKeyRotationPolicy(c, name, nil)
		return resp.KeyRotationPolicy, err
	})
}

// SetRotationPolicy replaces a key's rotation policy.
func (v *Vault) SetRotationPolicy(ctx context.Context, name string, p cloud.RotationPolicy) (cloud.RotationPolicy, error) {
	return v.policyCall(ctx, "set rotation policy of "+name, func(c context.Context) (azkeys.KeyRotationPolicy, error) {
		resp, err := v.client.UpdateKeyRotationPolicy(c, name, PolicyToAzure(p), nil)
		return resp.KeyRotationPolicy, err
	})
}

// policyCall runs one request answered with a rotation policy, within the
// request timeout, and reads the policy; a failure is classified under op.
func (v *Vault) policyCall(ctx context.Context, op string, do func(context.Context) (azkeys.KeyRotationPolicy, error)) (cloud.RotationPolicy, error) {
	ap, err := call(ctx, v, op, do)
	if err != nil {
		return cloud.RotationPolicy{}, err
	}
	p, err := PolicyFromAzure(ap)
	if err != nil {
		return p, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Reason: err.Error()}
	}
	return p, nil
}

// PolicyToAzure converts a rotation policy to Azure's lifetime actions.
func PolicyToAzure(p cloud.RotationPolicy) azkeys.KeyRotationPolicy {
	out := azkeys.KeyRotationPolicy{Attributes: &azkeys.KeyRotationPolicyAttributes{}, LifetimeActions: []*azkeys.LifetimeAction{}}
	if p.ExpireAfter > 0 {
		out.Attributes.ExpiryTime = to.Ptr(cloud.FormatISODuration(time.Duration(p.ExpireAfter)))
	}
	switch {
	case p.RotateAfter > 0:
		out.LifetimeActions = append(out.LifetimeActions, &azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
			Trigger: &azkeys.LifetimeActionTrigger{TimeAfterCreate: to.Ptr(cloud.FormatISODuration(time.Duration(p.RotateAfter)))}})
	case p.RotateBeforeExpiry > 0:
		out.LifetimeActions = append(out.LifetimeActions, &azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionRotate)},
			Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr(cloud.FormatISODuration(time.Duration(p.RotateBeforeExpiry)))}})
	}
	if p.NotifyBefore > 0 {
		out.LifetimeActions = append(out.LifetimeActions, &azkeys.LifetimeAction{Action: &azkeys.LifetimeActionType{Type: to.Ptr(azkeys.KeyRotationPolicyActionNotify)},
			Trigger: &azkeys.LifetimeActionTrigger{TimeBeforeExpiry: to.Ptr(cloud.FormatISODuration(time.Duration(p.NotifyBefore)))}})
	}
	return out
}

// PolicyFromAzure reads Azure's lifetime actions into a rotation policy.
func PolicyFromAzure(in azkeys.KeyRotationPolicy) (cloud.RotationPolicy, error) {
	var p cloud.RotationPolicy
	dur := func(s *string) (time.Duration, error) {
		if s == nil || *s == "" {
			return 0, nil
		}
		return cloud.ParseISODuration(*s)
	}
	if in.Attributes != nil {
		d, err := dur(in.Attributes.ExpiryTime)
		if err != nil {
			return p, err
		}
		p.ExpireAfter = toDur(d)
	}
	for _, a := range in.LifetimeActions {
		if a == nil || a.Action == nil || a.Action.Type == nil || a.Trigger == nil {
			return p, errors.New("a lifetime action lacks its type or trigger")
		}
		after, err := dur(a.Trigger.TimeAfterCreate)
		if err != nil {
			return p, err
		}
		before, err := dur(a.Trigger.TimeBeforeExpiry)
		if err != nil {
			return p, err
		}
		switch strings.ToLower(string(*a.Action.Type)) {
		case "rotate":
			p.RotateAfter, p.RotateBeforeExpiry = toDur(after), toDur(before)
		case "notify":
			p.NotifyBefore = toDur(before)
		default:
			return p, fmt.Errorf("unknown lifetime action %q", *a.Action.Type)
		}
	}
	return p, nil
}

func toDur(d time.Duration) engine.Duration { return engine.Duration(d) }

func fromProperties(kp *azkeys.KeyProperties) (cloud.KeyVersion, error) {
	if kp == nil {
		return cloud.KeyVersion{}, errors.New("null entry in the listing")
	}
	if kp.KID == nil {
		return cloud.KeyVersion{}, errors.New("an entry has no key id")
	}
	name, version, err := ParseKID(string(*kp.KID))
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	if kp.Attributes == nil || kp.Attributes.Updated == nil {
		return cloud.KeyVersion{}, fmt.Errorf("entry %s has no attributes or updated time", *kp.KID)
	}
	kv := cloud.KeyVersion{Name: name, Version: version, Tags: fromTags(kp.Tags), Managed: kp.Managed != nil && *kp.Managed}
	attrs(&kv, kp.Attributes)
	return kv, nil
}

// ParseKID splits a key identifier
// (https://<vault>/keys/<name>[/<version>], or /deletedkeys/<name>) into
// its name and version.
func ParseKID(kid string) (name, version string, err error) {
	u, err := url.Parse(kid)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("key id %q is not a URL", kid)
	}
	seg := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(seg) < 2 || len(seg) > 3 || (seg[0] != "keys" && seg[0] != "deletedkeys") || seg[1] == "" {
		return "", "", fmt.Errorf("key id %q is not <vault>/keys/<name>[/<version>]", kid)
	}
	for _, c := range seg[1] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return "", "", fmt.Errorf("key id %q: the name holds %q (only letters, digits and dashes)", kid, c)
		}
	}
	if len(seg) == 3 {
		version = seg[2]
		for _, c := range version {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return "", "", fmt.Errorf("key id %q: the version holds %q", kid, c)
			}
		}
	}
	return seg[1], version, nil
}

func attrs(kv *cloud.KeyVersion, a *azkeys.KeyAttributes) {
	if a == nil {
		return
	}
	kv.Enabled = a.Enabled == nil || *a.Enabled
	if a.Created != nil {
		kv.Created = a.Created.UTC()
	}
	if a.Updated != nil {
		kv.Updated = a.Updated.UTC()
	}
	kv.Expires, kv.NotBefore = utcPtr(a.Expires), utcPtr(a.NotBefore)
}

func (v *Vault) fromBundle(op string, b azkeys.KeyBundle) (cloud.KeyVersion, error) {
	if b.Key == nil || b.Key.KID == nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Reason: "the answer holds no key id"}
	}
	name, version, err := ParseKID(string(*b.Key.KID))
	if err != nil {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrBadAnswer, Op: op, Reason: err.Error()}
	}
	kv := cloud.KeyVersion{Name: name, Version: version, Tags: fromTags(b.Tags), Managed: b.Managed != nil && *b.Managed}
	attrs(&kv, b.Attributes)
	if b.Key.Kty != nil {
		kv.Type = strings.TrimSuffix(string(*b.Key.Kty), "-HSM")
	}
	switch kv.Type {
	case "RSA":
		kv.Size = new(big.Int).SetBytes(b.Key.N).BitLen()
	case "EC":
		if b.Key.Crv != nil {
			kv.Curve = string(*b.Key.Crv)
			kv.Size = curveBits(kv.Curve)
		}
	case "oct":
		kv.Size = len(b.Key.K) * 8
	}
	return kv, nil
}

func curveBits(c string) int {
	switch c {
	case "P-256", "P-256K":
		return 256
	case "P-384":
		return 384
	case "P-521":
		return 521
	}
	return 0
}

func toJWK(r cloud.ImportRequest) (*azkeys.JSONWebKey, error) {
	switch {
	case r.Symmetric != nil:
		if n := len(r.Symmetric); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("a symmetric key must be 128, 192 or 256 bits, not %d", n*8)
		}
		return &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeOctHSM), K: append([]byte(nil), r.Symmetric...)}, nil
	case r.Private != nil:
		switch k := r.Private.(type) {
		case *rsa.PrivateKey:
			if len(k.Primes) != 2 {
				return nil, errors.New("multi-prime RSA keys cannot be imported")
			}
			k.Precompute()
			return &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeRSA), N: k.N.Bytes(), E: big.NewInt(int64(k.E)).Bytes(),
				D: k.D.Bytes(), P: k.Primes[0].Bytes(), Q: k.Primes[1].Bytes(),
				DP: k.Precomputed.Dp.Bytes(), DQ: k.Precomputed.Dq.Bytes(), QI: k.Precomputed.Qinv.Bytes()}, nil
		case *ecdsa.PrivateKey:
			size := (k.Curve.Params().BitSize + 7) / 8
			return &azkeys.JSONWebKey{Kty: to.Ptr(azkeys.KeyTypeEC), Crv: to.Ptr(azkeys.CurveName(k.Curve.Params().Name)),
				X: k.X.FillBytes(make([]byte, size)), Y: k.Y.FillBytes(make([]byte, size)), D: k.D.FillBytes(make([]byte, size))}, nil
		}
		return nil, fmt.Errorf("key type %T cannot be imported", r.Private)
	}
	return nil, errors.New("no key material to import")
}

func zeroJWK(j *azkeys.JSONWebKey) {
	for _, b := range [][]byte{j.D, j.P, j.Q, j.DP, j.DQ, j.QI, j.K} {
		clear(b)
	}
}

func ptrTags(t map[string]string) map[string]*string {
	if t == nil {
		return nil
	}
	out := make(map[string]*string, len(t))
	for k, v := range t {
		out[k] = to.Ptr(v)
	}
	return out
}

func fromTags(t map[string]*string) map[string]string {
	if len(t) == 0 {
		return nil
	}
	out := make(map[string]string, len(t))
	for k, v := range t {
		// A vault tag cannot speak for keyward: what a key cannot do
		// is the connector's to say, never a tagger's.
		if v != nil && !strings.HasPrefix(k, engine.TagUnsupported) {
			out[k] = *v
		}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// classify turns an SDK error into a cloud.Error with a reason an
// administrator can act on.
func (v *Vault) classify(op string, err error) error {
	ce := &cloud.Error{Op: op, Err: err}
	var re *azcore.ResponseError
	var te *tokenError
	var af *azidentity.AuthenticationFailedError
	var dns *net.DNSError
	var opErr *net.OpError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	var serr *json.SyntaxError
	var terr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &re):
		msg := vaultMessage(re)
		switch re.StatusCode {
		case http.StatusUnauthorized:
			ce.Kind, ce.Reason = cloud.ErrCredential, "the vault refused the token: "+msg
		case http.StatusForbidden:
			ce.Kind, ce.Reason = cloud.ErrAccess, "no access policy or role assignment allows this identity (grant it keys list/get/create/... on the vault): "+msg
		case http.StatusNotFound:
			ce.Kind, ce.Reason = cloud.ErrNotFound, msg
		case http.StatusConflict:
			ce.Kind, ce.Reason = cloud.ErrConflict, msg
		case http.StatusBadRequest:
			ce.Kind, ce.Reason = cloud.ErrInvalid, msg
		case http.StatusTooManyRequests:
			ce.Kind, ce.Reason = cloud.ErrThrottled, msg
			ce.RetryAfter = retryAfter(re.RawResponse)
		default:
			ce.Kind, ce.Reason = cloud.ErrUnreachable, fmt.Sprintf("the vault answered %d %s: %s", re.StatusCode, http.StatusText(re.StatusCode), msg)
		}
	case errors.As(err, &af):
		ce.Kind, ce.Reason = cloud.ErrCredential, "Entra ID refused the credential (expired or wrong secret or certificate, unknown client or tenant): "+aadLine(af.Error())
	case errors.As(err, &te):
		ce.Kind, ce.Reason = cloud.ErrCredential, "could not get an access token for the vault: "+aadLine(te.err.Error())
	case errors.As(err, &dns):
		ce.Kind, ce.Reason = cloud.ErrUnreachable, fmt.Sprintf("DNS lookup of %s failed (check vault_url and the resolver)", dns.Name)
	case errors.As(err, &uerr), errors.As(err, &herr), errors.As(err, &cerr):
		ce.Kind, ce.Reason = cloud.ErrUnreachable, "TLS: the vault's certificate is not trusted ("+firstLine(err.Error())+"); set ca_file if a proxy or emulator signs it"
	case errors.As(err, &serr), errors.As(err, &terr), strings.Contains(err.Error(), "unmarshalling type"), strings.Contains(err.Error(), "invalid character"):
		ce.Kind, ce.Reason = cloud.ErrBadAnswer, "the vault's answer is not a Key Vault JSON reply"
	case errors.Is(err, context.DeadlineExceeded):
		ce.Kind, ce.Reason = cloud.ErrUnreachable, fmt.Sprintf("no answer within %s", v.timeout)
	case errors.As(err, &opErr):
		ce.Kind, ce.Reason = cloud.ErrUnreachable, fmt.Sprintf("%s %s: %v", opErr.Op, v.url, opErr.Err)
	case errors.Is(err, context.Canceled):
		return err
	default:
		ce.Kind, ce.Reason = cloud.ErrUnreachable, firstLine(err.Error())
	}
	return ce
}

func vaultMessage(re *azcore.ResponseError) string {
	if re.RawResponse != nil {
		if b, err := runtime.Payload(re.RawResponse); err == nil {
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if json.Unmarshal(b, &body) == nil && body.Error.Message != "" {
				return body.Error.Code + ": " + body.Error.Message
			}
		}
	}
	if re.ErrorCode != "" {
		return re.ErrorCode
	}
	return http.StatusText(re.StatusCode)
}

func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	h := resp.Header.Get("Retry-After")
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && n >= 0 {
		return time.Duration(min(n, 3600)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// aadLine picks the line of an Entra ID error that names the AADSTS code
// (e.g. "AADSTS7000222: The provided client secret keys ... are expired").
func aadLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "AADSTS"); i >= 0 {
			return strings.TrimRight(strings.TrimSpace(l[i:]), `",}`)
		}
	}
	return firstLine(s)
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "-") {
			return l
		}
	}
	return s
}

// NewSource returns the sync source of an [[azure]] section: its
// connector, synced every sync_interval.
func NewSource(cfg Settings, logger *slog.Logger, opts ...Option) (*cloud.SyncSource, error) {
	v, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return cloud.NewSyncSource(cfg.Name, v, cfg.Interval(), logger), nil
}
