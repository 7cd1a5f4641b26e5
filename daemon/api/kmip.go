package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// KMIP client-certificate API, the socket form of `keyward cert` (the TUI's
// Sources pane uses it; POSTs are admin only):
//
//	GET  /v1/kmip/{source}/cert                              -> CertInfo
//	POST /v1/kmip/{source}/csr      CSRRequest               -> CSRResponse
//	POST /v1/kmip/{source}/install  InstallCertRequest       -> CertInfo
//	POST /v1/kmip/{source}/import   ImportKeystoreRequest    -> CertInfo

// CSRRequest asks the daemon to make a client key and a CSR for a source.
type CSRRequest struct {
	CommonName   string `json:"cn"`
	Organization string `json:"o,omitempty"`
	RSA          bool   `json:"rsa,omitempty"`
	// Replace an existing private key (the installed certificate stops matching).
	Force bool `json:"force,omitempty"`
}

// CSRResponse carries the CSR to take to the CA. The new key is pending: the
// identity in use now stays in use until the certificate signed for the new
// key is installed.
type CSRResponse struct {
	CSR     string `json:"csr"`
	KeyFile string `json:"key_file"`
	// InUse is the identity the source keeps presenting meanwhile.
	InUse *ClientIdentity `json:"in_use,omitempty"`
	// Warning, in one line, when the daemon will not present this identity
	// (the source's config names its own cert_file or keystore_file).
	Warning string `json:"warning,omitempty"`
}

// InstallCertRequest installs the CA-signed certificate for the CSR's key:
// the files as read, PEM or DER, in Cert and Root (base64 in JSON), or PEM
// text in CertPEM and RootPEM.
type InstallCertRequest struct {
	Cert    []byte `json:"cert,omitempty"`
	Root    []byte `json:"root,omitempty"`
	CertPEM string `json:"cert_pem,omitempty"`
	RootPEM string `json:"root_pem,omitempty"`
}

// ImportKeystoreRequest imports a JKS or PKCS#12 keystore (bytes, base64 in
// JSON) opened with Password.
type ImportKeystoreRequest struct {
	Keystore []byte `json:"keystore"`
	Password string `json:"password"`
	// Alias picks the private-key entry (JKS alias, PKCS#12 friendly
	// name) of a keystore holding several.
	Alias string `json:"alias,omitempty"`
	// KeyPassword opens a JKS entry whose password is not the store's.
	KeyPassword string `json:"key_password,omitempty"`
	// Replace a private key the source already holds that is not the
	// keystore's; without it the daemon answers 409 CodeConflict.
	Force bool `json:"force,omitempty"`
}

// CertInfo describes a source's client certificate installed by keyward
// cert (never the key), the identity the source actually presents, and a
// key waiting for its certificate.
type CertInfo struct {
	Source string `json:"source"`
	engine.Certificate
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	Summary  string `json:"summary"`
	// Warning, in one line, when the daemon does not present this identity
	// (the source's config names its own cert_file or keystore_file).
	Warning string `json:"warning,omitempty"`
	// InUse is the identity the source presents now (the configured files
	// or the installed ones); Pending a CSR's key waiting for its
	// certificate.
	InUse   *ClientIdentity `json:"in_use,omitempty"`
	Pending *PendingKey     `json:"pending,omitempty"`
}

// The client identity types are the domain's (engine/identity.go).
type (
	ClientIdentity = engine.ClientIdentity
	PendingKey     = engine.PendingKey
)

// KMIPClient is how a KMIP source presents itself to its KMS: the client
// certificate in use, a key waiting for its certificate, the TLS settings.
type KMIPClient struct {
	Identity      *ClientIdentity `json:"identity,omitempty"`
	Pending       *PendingKey     `json:"pending,omitempty"`
	TLSMinVersion string          `json:"tls_min_version"`
	// CipherSuites are the TLS 1.2 suites offered when the config names
	// them (default: Go's own secure list).
	CipherSuites []string `json:"cipher_suites,omitempty"`
	// Warning says which configured suites are weaker than the default.
	Warning string `json:"warning,omitempty"`
}

// Lines are the client identity in words, for status displays: the
// identity presented, a key waiting for its certificate, weaker suites.
func (c *KMIPClient) Lines() []string {
	if c == nil {
		return nil
	}
	var out []string
	if c.Identity != nil {
		out = append(out, "client certificate "+c.Identity.String())
	}
	if c.Pending != nil {
		out = append(out, c.Pending.String()+"; the certificate above stays in use until then")
	}
	if c.Warning != "" {
		out = append(out, "warning: "+c.Warning)
	}
	return out
}

// kmipPath is the path of a KMIP source's operation op.
func kmipPath(source, op string) string {
	return "/kmip/" + url.PathEscape(source) + "/" + op
}

// KMIPCert returns a source's installed client certificate.
func (c *Client) KMIPCert(ctx context.Context, source string) (*CertInfo, error) {
	return call[CertInfo](ctx, c, http.MethodGet, kmipPath(source, "cert"), nil, nil)
}

// KMIPCSR makes a key and CSR for a source.
func (c *Client) KMIPCSR(ctx context.Context, source string, req CSRRequest) (*CSRResponse, error) {
	return call[CSRResponse](ctx, c, http.MethodPost, kmipPath(source, "csr"), nil, req)
}

// KMIPInstallCert installs a signed certificate for a source.
func (c *Client) KMIPInstallCert(ctx context.Context, source string, req InstallCertRequest) (*CertInfo, error) {
	return call[CertInfo](ctx, c, http.MethodPost, kmipPath(source, "install"), nil, req)
}

// KMIPImportKeystore imports a keystore for a source.
func (c *Client) KMIPImportKeystore(ctx context.Context, source string, req ImportKeystoreRequest) (*CertInfo, error) {
	return call[CertInfo](ctx, c, http.MethodPost, kmipPath(source, "import"), nil, req)
}

// KMIPPoll says what a KMIP source's latest poll cost and found.
type KMIPPoll struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	// Requests is the number of KMIP request messages sent (each may carry
	// a batch of operations); the others count operations.
	Requests int `json:"requests"`
	Locates  int `json:"locates"`
	// Relocates are the Locates (counted in Locates too) a poll sent
	// again because its reads showed an application's encrypting
	// generation leave with nothing newer located (a rotation between
	// the Locate and the reads).
	Relocates int `json:"relocates"`
	AttrReads int `json:"attribute_reads"`
	Gets      int `json:"gets"`
	Located   int `json:"located"`
	Matched   int `json:"matched"`
	// Mismatched counts located objects whose Name did not match the
	// pattern they were located by (ignored).
	Mismatched int `json:"mismatched"`
	// Rechecked counts known keys the Locate did not return, read by their
	// identifier before being taken for destroyed; Recovered those found.
	Rechecked int `json:"rechecked"`
	Recovered int `json:"recovered"`
	Added     int `json:"added"`
	Dropped   int `json:"dropped"`
	// LeftOut are generations a ring should hold but could not take, each
	// as "name: why" (the KMS refused the Get, the material changed, ...).
	LeftOut []string `json:"left_out,omitempty"`
	// Warnings are what else the poll could not settle (known keys the
	// Locate missed, reads that failed); like LeftOut they make the source
	// degraded although it polled.
	Warnings []string `json:"warnings,omitempty"`
	// Full is set on a poll that read every located object's Name and
	// State (the first, then one every full_refresh); the others read only
	// new objects and those whose state moved.
	Full bool `json:"full_refresh"`
	// Wildcards says where names were matched: "server" (one Locate per
	// application), "client" (every key listed, names matched by keyward)
	// or "probing" (the poll that learned which).
	Wildcards string `json:"wildcards"`
	// FailedAddresses are the addresses tried before Address answered,
	// each as "host:port: why" (a failover hides nothing: the source is
	// degraded while its first choice does not answer).
	FailedAddresses []string `json:"failed_addresses,omitempty"`
	// Protocol is the KMIP version spoken, Address the KMS that answered.
	Protocol string `json:"protocol,omitempty"`
	Address  string `json:"address,omitempty"`
	Err      string `json:"error,omitempty"`
}

// Summary is the poll in one line, for status displays: where and in
// which protocol version, what it cost and found.
func (p *KMIPPoll) Summary() string {
	where := "KMIP " + p.Protocol
	if p.Address != "" {
		where += " at " + p.Address
	}
	if p.Protocol == "" {
		where = "not connected"
	}
	if len(p.FailedAddresses) > 0 && p.Protocol != "" {
		where += fmt.Sprintf(" (failed first: %s)", strings.Join(p.FailedAddresses, "; "))
	}
	s := fmt.Sprintf("%s · last poll %s: %s, %s matched, %d new, %d dropped, %s",
		where, p.Duration.Round(time.Millisecond), engine.Plural(p.Requests, "request"), engine.Plural(p.Matched, "key"), p.Added, p.Dropped, engine.Plural(p.Gets, "Get"))
	if r := p.RelocatesNote(); r != "" {
		s += " · " + r
	}
	if m := p.WildcardMode(); m != "" {
		s += " · " + m
	}
	if p.Err != "" {
		s += " · failed: " + p.Err
	}
	return s
}

// RelocatesNote says how many Locates the poll sent again because the KMS
// changed during it ("" when none).
func (p *KMIPPoll) RelocatesNote() string {
	if p.Relocates == 0 {
		return ""
	}
	return fmt.Sprintf("located again %s (an encrypting generation left during the poll)", engine.Plural(p.Relocates, "time"))
}

// WildcardMode says in words where the poll matched names (Wildcards).
func (p *KMIPPoll) WildcardMode() string {
	switch p.Wildcards {
	case "server":
		return "the KMS matches the name patterns"
	case "client":
		return "names matched here (the KMS does not expand wildcards)"
	case "probing":
		return "learning whether the KMS expands wildcards"
	}
	return ""
}

// Summary says in one line which generation the next rotation pushes out
// of a full ring and whether tokens still need it ("" while the ring has
// room). The CLI's status and the Sources pane both print it.
func (n *NextOut) Summary(app string) string {
	if n == nil {
		return ""
	}
	s := fmt.Sprintf("next rotation pushes %s (key id %s) out of the %s ring: ", n.Name, n.KeyID, app)
	switch {
	case n.Unknown:
		s += "its recent use is not known yet"
	case n.Decrypts == 0:
		s += "no decrypts in the last " + n.Window
	default:
		s += fmt.Sprintf("it still decrypted %d token(s) in the last %s", n.Decrypts, n.Window)
		if n.LastDecrypt != nil {
			s += ", latest in the hour from " + n.LastDecrypt.UTC().Format("2006-01-02 15:04 UTC")
		}
		s += "; rewrap stored data first (keyward rewrap --app " + app + ")"
	}
	return s
}
