package gcp

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/engine"
)

// Settings is one [[gcp]] section: one Google Cloud project, its chosen
// locations and key rings. Projects are sections, so a project that
// refuses the credential degrades only itself.
type Settings struct {
	Name    string `toml:"name"`
	Project string `toml:"project"`
	// Locations are the Cloud KMS locations to sync (europe-west1, us,
	// global, ...); empty or ["all"]: every location the project lists.
	Locations []string `toml:"locations"`
	// KeyRings limits the sync to these key rings: "location/ring" or a
	// bare ring ID (in every synced location); empty or ["all"]: all.
	KeyRings []string `toml:"key_rings"`
	// Credential is service-account (CredentialsFile: a service-account
	// key, mode 0600), workload-identity (CredentialsFile: an
	// external_account configuration), default (application default
	// credentials: GOOGLE_APPLICATION_CREDENTIALS, gcloud, the metadata
	// server) or none (only with a loopback endpoint: keyward's fake).
	// Empty: service-account with a credentials file, else default.
	Credential      string `toml:"credential"`
	CredentialsFile string `toml:"credentials_file"`
	// Endpoint replaces cloudkms.googleapis.com:443 (host:port: a Private
	// Service Connect endpoint, a regional endpoint; plaintext only to a
	// loopback address). LoggingEndpoint likewise for Cloud Logging.
	Endpoint        string `toml:"endpoint"`
	LoggingEndpoint string `toml:"logging_endpoint"`
	// HTTPSProxy sends every connection of this source through the proxy
	// (HTTP CONNECT).
	HTTPSProxy string `toml:"https_proxy"`
	// CreateIn is the "location/ring" new keys go into when a create or
	// upload does not say (tag gcp:key-ring); the ring is created if
	// missing. Default: the only configured "location/ring", if one.
	CreateIn string `toml:"create_in"`
	// Audit reads Cloud Audit Logs (data access of cloudkms) for the
	// usage and activity reports; default true.
	Audit        *bool           `toml:"audit_logs"`
	SyncInterval engine.Duration `toml:"sync_interval"`
	// FullRefreshEvery lists every key's versions every n-th sync (default
	// 12); in between only keys whose listing changed are.
	FullRefreshEvery int `toml:"full_refresh_every"`
}

// Credential kinds.
const (
	CredServiceAccount   = "service-account"
	CredWorkloadIdentity = "workload-identity"
	CredDefault          = cloud.CredDefault
	CredNone             = "none"
)

// CredentialKind is the credential the section uses.
func (g *Settings) CredentialKind() string {
	return cloud.CredentialKind(g.Credential, cloud.Implied{Value: g.CredentialsFile, Kind: CredServiceAccount})
}

// AllLocations reports whether every location is synced.
func (g *Settings) AllLocations() bool {
	return len(g.Locations) == 0 || slices.Equal(g.Locations, []string{"all"})
}

// AllKeyRings reports whether every key ring is synced.
func (g *Settings) AllKeyRings() bool {
	return len(g.KeyRings) == 0 || slices.Equal(g.KeyRings, []string{"all"})
}

// Interval is the sync interval (default 15 minutes).
func (g *Settings) Interval() time.Duration { return cloud.SyncEvery(g.SyncInterval) }

// FullEvery is how often (in syncs) every key's versions are listed.
func (g *Settings) FullEvery() int {
	if g.FullRefreshEvery <= 0 {
		return 12
	}
	return g.FullRefreshEvery
}

// AuditLogs reports whether audit logs are read (default true).
func (g *Settings) AuditLogs() bool { return g.Audit == nil || *g.Audit }

// CreateRing is the "location/ring" new keys go into ("" if none).
func (g *Settings) CreateRing() string {
	if g.CreateIn != "" {
		return g.CreateIn
	}
	if !g.AllKeyRings() && len(g.KeyRings) == 1 && strings.Contains(g.KeyRings[0], "/") {
		return g.KeyRings[0]
	}
	if !g.AllKeyRings() && len(g.KeyRings) == 1 && !g.AllLocations() && len(g.Locations) == 1 {
		return g.Locations[0] + "/" + g.KeyRings[0]
	}
	return ""
}

// SourceName is the section's name.
func (g *Settings) SourceName() string { return g.Name }

// Validate checks the section's values; problems are prefixed with prefix.
func (g *Settings) Validate(prefix string) []string {
	p := cloud.NewProblems(prefix)
	add := p.Add
	switch {
	case g.Project == "":
		add("project", "is required (the project ID, e.g. \"acme-prod-kms\"; one [[gcp]] section per project)")
	case !gcpname.ValidProject(g.Project):
		add("project", "%q is not a project ID (6 to 30 lowercase letters, digits and hyphens, starting with a letter) or project number", g.Project)
	}
	if !g.AllLocations() {
		for _, l := range g.Locations {
			if l == "all" {
				add("locations", "\"all\" must be alone (every location) or left out")
			} else if !gcpname.ValidLocation(l) {
				add("locations", "%q is not a Cloud KMS location (europe-west1, us-central1, us, global, ...)", l)
			}
		}
	}
	if !g.AllKeyRings() {
		for _, r := range g.KeyRings {
			if msg := checkRing(r, g); msg != "" {
				add("key_rings", "%s", msg)
			}
		}
	}
	if g.CreateIn != "" {
		if loc, ring, ok := strings.Cut(g.CreateIn, "/"); !ok || !gcpname.ValidLocation(loc) || !gcpname.ValidID(ring) {
			add("create_in", "%q is not location/ring (e.g. \"europe-west1/acme-keys\")", g.CreateIn)
		}
	}
	loopback := false
	for key, ep := range map[string]string{"endpoint": g.Endpoint, "logging_endpoint": g.LoggingEndpoint} {
		if ep == "" {
			continue
		}
		lb, msg := checkEndpoint(ep)
		if msg != "" {
			add(key, "%s", msg)
		}
		if key == "endpoint" {
			loopback = lb
		}
	}
	switch g.CredentialKind() {
	case CredServiceAccount, CredWorkloadIdentity:
		if g.CredentialsFile == "" {
			add("credentials_file", "is required for credential %q (%s)", g.CredentialKind(), credFileHint(g.CredentialKind()))
		}
	case CredDefault:
		if g.CredentialsFile != "" {
			add("credentials_file", "is not read with credential \"default\" (application default credentials find their own file)")
		}
	case CredNone:
		if !loopback {
			add("credential", "\"none\" is only for a loopback endpoint (keyward's own Cloud KMS fake in tests and the demo)")
		}
	default:
		add("credential", "%q is not one of service-account, workload-identity, default, none", g.Credential)
	}
	p.HTTPSProxy(g.HTTPSProxy)
	p.FullRefreshEvery(g.FullRefreshEvery)
	p.SyncInterval(g.SyncInterval)
	return p.List
}

func credFileHint(kind string) string {
	if kind == CredWorkloadIdentity {
		return "the external_account configuration gcloud iam workload-identity-pools create-cred-config writes"
	}
	return "a service-account key JSON file, mode 0600"
}

func checkRing(r string, g *Settings) string {
	loc, ring, ok := strings.Cut(r, "/")
	if !ok {
		ring, loc = r, ""
	}
	switch {
	case r == "all":
		return "\"all\" must be alone (every key ring) or left out"
	case loc != "" && !gcpname.ValidLocation(loc):
		return fmt.Sprintf("%q: %q is not a location", r, loc)
	case !gcpname.ValidID(ring):
		return fmt.Sprintf("%q: a key ring ID is 1 to 63 letters, digits, underscores or hyphens", r)
	case loc != "" && !g.AllLocations() && !slices.Contains(g.Locations, loc):
		return fmt.Sprintf("%q is in %s, which locations leaves out", r, loc)
	}
	return ""
}

// checkEndpoint explains what is wrong with an endpoint ("" if fine) and
// says whether it is a loopback address (served in plaintext).
func checkEndpoint(ep string) (loopback bool, msg string) {
	host, port, err := net.SplitHostPort(ep)
	if err != nil || host == "" || port == "" {
		return false, fmt.Sprintf("%q is not host:port (e.g. \"europe-west1-cloudkms.googleapis.com:443\")", ep)
	}
	return cloud.IsLoopback(host), ""
}

// ServiceAccount is what keyward checks in a service-account key file.
type ServiceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// ParseCredentials checks a credentials file of the given kind
// (service-account or workload-identity) and returns its type. Errors name
// the field, never a value of it: the file holds a private key.
func ParseCredentials(kind string, b []byte) (string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return "", fmt.Errorf("is not a JSON object (download the key again: IAM > Service accounts > Keys)")
	}
	var typ string
	if err := json.Unmarshal(raw["type"], &typ); err != nil || typ == "" {
		return "", fmt.Errorf("has no \"type\" (service_account or external_account)")
	}
	switch kind {
	case CredServiceAccount:
		if typ != "service_account" {
			return "", fmt.Errorf("is of type %q, not service_account (use credential \"workload-identity\" for an external_account file)", typ)
		}
		var sa ServiceAccount
		if err := json.Unmarshal(b, &sa); err != nil {
			return "", fmt.Errorf("a field has the wrong JSON type")
		}
		defer func() { sa.PrivateKey = "" }()
		if sa.ClientEmail == "" || !strings.Contains(sa.ClientEmail, "@") {
			return "", fmt.Errorf("has no client_email")
		}
		blk, _ := pem.Decode([]byte(sa.PrivateKey))
		if blk == nil {
			return "", fmt.Errorf("private_key of %s is not a PEM private key", sa.ClientEmail)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		clear(blk.Bytes)
		if err != nil {
			return "", fmt.Errorf("private_key of %s is not a PKCS#8 private key", sa.ClientEmail)
		}
		_ = k
		if sa.TokenURI != "" {
			if u, err := url.Parse(sa.TokenURI); err != nil || u.Scheme != "https" || u.Host == "" {
				return "", fmt.Errorf("token_uri of %s is not an https URL", sa.ClientEmail)
			}
		}
	case CredWorkloadIdentity:
		if typ != "external_account" {
			return "", fmt.Errorf("is of type %q, not external_account (use credential \"service-account\" for a key file)", typ)
		}
		var ext struct {
			Audience         string          `json:"audience"`
			SubjectTokenType string          `json:"subject_token_type"`
			CredentialSource json.RawMessage `json:"credential_source"`
		}
		if err := json.Unmarshal(b, &ext); err != nil {
			return "", fmt.Errorf("a field has the wrong JSON type")
		}
		if !strings.HasPrefix(ext.Audience, "//iam.googleapis.com/") {
			return "", fmt.Errorf("audience is not a workload identity pool provider (//iam.googleapis.com/projects/…/providers/…)")
		}
		if ext.SubjectTokenType == "" || len(ext.CredentialSource) == 0 {
			return "", fmt.Errorf("needs subject_token_type and credential_source")
		}
	default:
		return "", fmt.Errorf("credential %q has no file", kind)
	}
	return typ, nil
}

// readCredentials reads and checks a credentials file; a service-account
// key readable by anyone but its owner is refused. The caller zeroes the
// bytes.
func readCredentials(kind, path string) ([]byte, error) {
	holds := "" // an external_account configuration holds no secret
	if kind == CredServiceAccount {
		holds = "a service account's private key"
	}
	b, err := cloud.ReadPrivateFile("credentials_file", path, holds)
	if err != nil {
		return nil, err
	}
	if _, err := ParseCredentials(kind, b); err != nil {
		clear(b)
		return nil, fmt.Errorf("credentials_file %s %w", path, err)
	}
	return b, nil
}
