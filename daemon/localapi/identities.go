package localapi

import (
	"errors"
	"net/http"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/engine"
)

// identityError maps the identity service's errors.
func identityError(err error) error {
	switch {
	case errors.Is(err, pki.ErrUnknownSource), errors.Is(err, pki.ErrNoCertificate):
		return notFound("%v", err)
	case errors.Is(err, pki.ErrKeyExists):
		return fail(http.StatusConflict, api.CodeConflict, "%v", err)
	case errors.Is(err, pki.ErrInvalid):
		return badRequest("%v", err)
	}
	return err
}

// certInfo is a source's identity on the wire.
func certInfo(c *pki.Cert) api.CertInfo {
	out := api.CertInfo{Source: c.Source, Warning: c.Warning, InUse: c.InUse, Pending: c.Pending}
	if i := c.Info; i != nil {
		out.Certificate, out.CertFile, out.KeyFile, out.Summary = i.Certificate, c.Files.Cert, c.Files.Key, i.String()
	}
	return out
}

// installedCert answers an install or import and tells the audit hook
// which certificate is now in place (never anything of the key).
func installedCert(w http.ResponseWriter, r *http.Request, op, details string, c *pki.Cert, err error) error {
	if err != nil {
		return identityError(err)
	}
	if c.Installed != "" {
		details += ": " + c.Installed
	}
	record(r, engine.Event{Operation: op, Source: c.Source, Details: details}, false)
	return writeJSON(w, certInfo(c))
}

func (h *Handler) clientCert(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Identities
	c, err := s.Cert(r.PathValue("source"))
	if err != nil {
		return identityError(err)
	}
	return writeJSON(w, certInfo(c))
}

func (h *Handler) clientCSR(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Identities
	var req api.CSRRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	source := r.PathValue("source")
	csr, err := s.MakeCSR(source, pki.CSROptions{CommonName: req.CommonName, Organization: req.Organization, RSA: req.RSA}, req.Force)
	if err != nil {
		return identityError(err)
	}
	record(r, engine.Event{Operation: engine.OpClientKeyCreated, Source: source,
		Details: "new client key and CSR (pending until its signed certificate is installed)"}, false)
	return writeJSON(w, api.CSRResponse{CSR: string(csr.PEM), KeyFile: csr.KeyFile, InUse: csr.InUse, Warning: csr.Warning})
}

func (h *Handler) clientInstall(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Identities
	var req api.InstallCertRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	cert, root := req.Cert, req.Root
	if len(cert) == 0 {
		cert = []byte(req.CertPEM)
	}
	if len(root) == 0 {
		root = []byte(req.RootPEM)
	}
	c, err := s.Install(r.PathValue("source"), cert, root)
	return installedCert(w, r, engine.OpClientCertInstall, "signed client certificate installed", c, err)
}

func (h *Handler) clientImport(w http.ResponseWriter, r *http.Request) error {
	s := h.s.Identities
	var req api.ImportKeystoreRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	defer clear(req.Keystore)
	c, err := s.Import(r.PathValue("source"), req.Keystore, []byte(req.Password), pki.KeystoreOptions{Alias: req.Alias, KeyPassword: []byte(req.KeyPassword)}, req.Force)
	return installedCert(w, r, engine.OpClientKeystoreUsed, "client identity imported from a keystore", c, err)
}
