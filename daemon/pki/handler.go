package pki

import (
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/daemon/api"
)

// Handler serves the socket form of `keyward cert` under /v1/kmip/ (see
// daemon/api/kmip.go for the routes) for the named KMIP sources, writing to
// dataDir/kmip/<source>. The daemon must let only admins reach the POSTs.
func Handler(dataDir string, sources []string, now func() time.Time) http.Handler {
	return NewHandler(dataDir, sources, HandlerOptions{Now: now})
}

// HandlerOptions are the optional settings of NewHandler.
type HandlerOptions struct {
	// Now is the clock certificates are checked at (default time.Now).
	Now func() time.Time
	// Warnings go with every answer about a source, by source name: see
	// IgnoredWarning (a source whose config names its own identity).
	Warnings map[string]string
	// InUse reports the identity a source presents now (nil: unknown).
	InUse func(source string) *api.ClientIdentity
	// Changed is told, after an install or import, that a source's
	// identity files changed, so that the source presents the new identity
	// at once.
	Changed func(source string)
}

// AuditHeader is the response header in which the handler names the
// certificate an install or import put in place (subject, issuer, serial,
// not-after; never key material), for the daemon's activity log.
const AuditHeader = "X-Keyward-Installed"

// NewHandler is Handler with options.
func NewHandler(dataDir string, sources []string, o HandlerOptions) http.Handler {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	changed := func(source string) {
		if o.Changed != nil {
			o.Changed(source)
		}
	}
	inUse := func(source string) *api.ClientIdentity {
		if o.InUse == nil {
			return nil
		}
		return o.InUse(source)
	}
	return api.WithParams(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/v1/kmip/")
		source, action, ok := strings.Cut(rest, "/")
		if !ok || source == "" {
			api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such route %s", r.URL.Path)
			return
		}
		if !slices.Contains(sources, source) {
			api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no KMIP source named %q (have: %s)", source, strings.Join(sources, ", "))
			return
		}
		f := Paths(dataDir, source)
		warning := o.Warnings[source]
		switch {
		case action == "cert" && r.Method == http.MethodGet:
			ci := api.CertInfo{Source: source, Warning: warning, Pending: Pending(f)}
			if o.InUse != nil {
				ci.InUse = o.InUse(source)
			}
			b, err := os.ReadFile(f.Cert)
			switch {
			case err == nil:
				info, err := Describe(b)
				if err != nil {
					api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%s: %v", f.Cert, err)
					return
				}
				ci = certInfo(source, f, info, warning, ci.InUse, ci.Pending)
			case !errors.Is(err, os.ErrNotExist):
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%v", err)
				return
			case ci.Pending == nil && (ci.InUse == nil || ci.InUse.Subject == ""):
				api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no client certificate installed for %s: generate a CSR or import a keystore", source)
				return
			}
			api.WriteJSON(w, http.StatusOK, ci)
		case action == "csr" && r.Method == http.MethodPost:
			var req api.CSRRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			if !req.Force && (exists(f.Key) || exists(f.PendingKey)) {
				api.WriteError(w, http.StatusConflict, api.CodeConflict, "%s already has a private key; confirm making a new one (it waits as pending, and the identity in use keeps working, until its signed certificate is installed)", source)
				return
			}
			csr, err := GenerateCSR(f, CSROptions{CommonName: req.CommonName, Organization: req.Organization, RSA: req.RSA})
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			res := api.CSRResponse{CSR: string(csr), KeyFile: f.PendingKey, Warning: warning}
			if o.InUse != nil {
				res.InUse = o.InUse(source)
			}
			api.WriteJSON(w, http.StatusOK, res)
		case action == "install" && r.Method == http.MethodPost:
			var req api.InstallCertRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			cert, root := req.Cert, req.Root
			if len(cert) == 0 {
				cert = []byte(req.CertPEM)
			}
			if len(root) == 0 {
				root = []byte(req.RootPEM)
			}
			leaf, err := Install(f, cert, root, now())
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			changed(source)
			w.Header().Set(AuditHeader, Named(leaf))
			b, err := os.ReadFile(f.Cert)
			if err != nil {
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%v", err)
				return
			}
			info, err := Describe(b)
			if err != nil {
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%s: %v", f.Cert, err)
				return
			}
			api.WriteJSON(w, http.StatusOK, certInfo(source, f, info, warning, inUse(source), Pending(f)))
		case action == "import" && r.Method == http.MethodPost:
			var req api.ImportKeystoreRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			pw, kpw := []byte(req.Password), []byte(req.KeyPassword)
			info, err := ImportWith(f, req.Keystore, pw, KeystoreOptions{Alias: req.Alias, KeyPassword: kpw}, now(), req.Force)
			clear(pw)
			clear(kpw)
			clear(req.Keystore)
			if errors.Is(err, ErrKeyExists) {
				api.WriteError(w, http.StatusConflict, api.CodeConflict, "%s already has a different private key; confirm replacing it with the keystore's (a key waiting for a CSR's certificate stays pending)", source)
				return
			}
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			changed(source)
			if b, err := os.ReadFile(f.Cert); err == nil {
				if leaf, err := Leaf(b); err == nil {
					w.Header().Set(AuditHeader, Named(leaf))
				}
			}
			api.WriteJSON(w, http.StatusOK, certInfo(source, f, info, warning, inUse(source), Pending(f)))
		default:
			api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such route %s %s", r.Method, r.URL.Path)
		}
	}))
}

func certInfo(source string, f Files, i *KeystoreInfo, warning string, inUse *api.ClientIdentity, pending *api.PendingKey) api.CertInfo {
	return api.CertInfo{Source: source, Format: i.Format, Alias: i.Alias, Subject: i.Subject, Issuer: i.Issuer, Serial: i.Serial, KeyType: i.KeyType,
		NotBefore: i.NotBefore, NotAfter: i.NotAfter, ChainLen: i.ChainLen, ClientAuth: i.ClientAuth, CertFile: f.Cert, KeyFile: f.Key,
		Summary: i.String(), Warning: warning, InUse: inUse, Pending: pending}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
