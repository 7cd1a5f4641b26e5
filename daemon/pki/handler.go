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
}

// NewHandler is Handler with options.
func NewHandler(dataDir string, sources []string, o HandlerOptions) http.Handler {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			b, err := os.ReadFile(f.Cert)
			if errors.Is(err, os.ErrNotExist) {
				api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no client certificate installed for %s: generate a CSR or import a keystore", source)
				return
			}
			if err != nil {
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%v", err)
				return
			}
			info, err := Describe(b)
			if err != nil {
				api.WriteError(w, http.StatusInternalServerError, api.CodeInternal, "%s: %v", f.Cert, err)
				return
			}
			api.WriteJSON(w, http.StatusOK, certInfo(source, f, info, warning))
		case action == "csr" && r.Method == http.MethodPost:
			var req api.CSRRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			if _, err := os.Stat(f.Key); err == nil && !req.Force {
				api.WriteError(w, http.StatusConflict, api.CodeConflict, "%s already has a private key; confirm replacing it (the installed certificate will stop matching)", source)
				return
			}
			csr, err := GenerateCSR(f, CSROptions{CommonName: req.CommonName, Organization: req.Organization, RSA: req.RSA})
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			api.WriteJSON(w, http.StatusOK, api.CSRResponse{CSR: string(csr), KeyFile: f.Key, Warning: warning})
		case action == "install" && r.Method == http.MethodPost:
			var req api.InstallCertRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			if _, err := Install(f, []byte(req.CertPEM), []byte(req.RootPEM), now()); err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			info, _ := Describe([]byte(req.CertPEM))
			api.WriteJSON(w, http.StatusOK, certInfo(source, f, info, warning))
		case action == "import" && r.Method == http.MethodPost:
			var req api.ImportKeystoreRequest
			if !api.DecodeJSON(w, r, &req) {
				return
			}
			pw := []byte(req.Password)
			info, err := Import(f, req.Keystore, pw, now(), req.Force)
			clear(pw)
			clear(req.Keystore)
			if errors.Is(err, ErrKeyExists) {
				api.WriteError(w, http.StatusConflict, api.CodeConflict, "%s already has a different private key; confirm replacing it with the keystore's (a CSR pending for the current key can no longer be installed)", source)
				return
			}
			if err != nil {
				api.WriteError(w, http.StatusBadRequest, api.CodeBadRequest, "%v", err)
				return
			}
			api.WriteJSON(w, http.StatusOK, certInfo(source, f, info, warning))
		default:
			api.WriteError(w, http.StatusNotFound, api.CodeNotFound, "no such route %s %s", r.Method, r.URL.Path)
		}
	})
}

func certInfo(source string, f Files, i *KeystoreInfo, warning string) api.CertInfo {
	return api.CertInfo{Source: source, Format: i.Format, Alias: i.Alias, Subject: i.Subject, Issuer: i.Issuer, KeyType: i.KeyType,
		NotBefore: i.NotBefore, NotAfter: i.NotAfter, ChainLen: i.ChainLen, ClientAuth: i.ClientAuth, CertFile: f.Cert, KeyFile: f.Key,
		Summary: i.String(), Warning: warning}
}
