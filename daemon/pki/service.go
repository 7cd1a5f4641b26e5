package pki

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// Errors of Service callers branch on (errors.Is).
var (
	// ErrUnknownSource: no KMIP source of that name.
	ErrUnknownSource = errors.New("no such KMIP source")
	// ErrNoCertificate: the source has no client certificate to show.
	ErrNoCertificate = errors.New("no client certificate installed")
	// ErrInvalid: a CSR request, certificate or keystore failed a check.
	ErrInvalid = errors.New("invalid client identity")
)

// Service is the client-identity service of the KMIP sources (`keyward
// cert` through the daemon): it shows, makes, installs and imports each
// source's identity under dataDir/kmip/<source>.
type Service struct {
	dataDir string
	sources []string
	o       ServiceOptions
}

// ServiceOptions are the optional settings of NewService.
type ServiceOptions struct {
	// Now is the clock certificates are checked at (default time.Now).
	Now func() time.Time
	// Warnings go with every answer about a source, by source name: see
	// IgnoredWarning (a source whose config names its own identity).
	Warnings map[string]string
	// InUse reports the identity a source presents now (nil: unknown).
	InUse func(source string) *engine.ClientIdentity
	// Changed is told, after an install or import, that a source's
	// identity files changed, so that the source presents the new identity
	// at once.
	Changed func(source string)
}

// NewService is the identity service of the named KMIP sources.
func NewService(dataDir string, sources []string, o ServiceOptions) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{dataDir: dataDir, sources: sources, o: o}
}

// Cert is a source's client identity as the service describes it.
type Cert struct {
	Source string
	// Info is the installed certificate (nil when none is).
	Info  *KeystoreInfo
	Files Files
	// Warning, in one line, when the daemon does not present this
	// identity (the source's config names its own).
	Warning string
	InUse   *engine.ClientIdentity
	Pending *engine.PendingKey
	// Installed names the certificate an install or import put in place
	// (Named: never key material), for the activity log.
	Installed string
}

// CSR is a new pending key's certificate request.
type CSR struct {
	PEM     []byte
	KeyFile string
	Warning string
	InUse   *engine.ClientIdentity
}

// files are the identity files of source, or ErrUnknownSource.
func (s *Service) files(source string) (Files, error) {
	if !slices.Contains(s.sources, source) {
		return Files{}, engine.Errorf(ErrUnknownSource, "no KMIP source named %q (have: %s)", source, strings.Join(s.sources, ", "))
	}
	return Paths(s.dataDir, source), nil
}

func (s *Service) inUse(source string) *engine.ClientIdentity {
	if s.o.InUse == nil {
		return nil
	}
	return s.o.InUse(source)
}

// installed describes the certificate installed for source.
func (s *Service) installed(source string, f Files) (*Cert, error) {
	c := &Cert{Source: source, Files: f, Warning: s.o.Warnings[source], InUse: s.inUse(source), Pending: Pending(f)}
	b, err := os.ReadFile(f.Cert)
	switch {
	case err == nil:
		if c.Info, err = Describe(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Cert, err)
		}
		if leaf, err := Leaf(b); err == nil {
			c.Installed = Named(leaf)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	return c, nil
}

// Cert is source's identity: the installed certificate, the one in use
// and a pending key. Having none of them is ErrNoCertificate.
func (s *Service) Cert(source string) (*Cert, error) {
	f, err := s.files(source)
	if err != nil {
		return nil, err
	}
	c, err := s.installed(source, f)
	if err != nil {
		return nil, err
	}
	if c.Info == nil && c.Pending == nil && (c.InUse == nil || c.InUse.Subject == "") {
		return nil, engine.Errorf(ErrNoCertificate, "no client certificate installed for %s: generate a CSR or import a keystore", source)
	}
	return c, nil
}

// MakeCSR makes a new pending key and its CSR for source. A source that
// already has a key (in use or pending) needs force.
func (s *Service) MakeCSR(source string, o CSROptions, force bool) (*CSR, error) {
	f, err := s.files(source)
	if err != nil {
		return nil, err
	}
	if !force && (exists(f.Key) || exists(f.PendingKey)) {
		return nil, engine.Errorf(ErrKeyExists, "%s already has a private key; confirm making a new one (it waits as pending, and the identity in use keeps working, until its signed certificate is installed)", source)
	}
	csr, err := GenerateCSR(f, o)
	if err != nil {
		return nil, &engine.KindError{Kind: ErrInvalid, Msg: err.Error()}
	}
	return &CSR{PEM: csr, KeyFile: f.PendingKey, Warning: s.o.Warnings[source], InUse: s.inUse(source)}, nil
}

// Install installs the CA-signed certificate (PEM or DER) for the pending
// key, checked against root; the source presents it at once.
func (s *Service) Install(source string, cert, root []byte) (*Cert, error) {
	f, err := s.files(source)
	if err != nil {
		return nil, err
	}
	if _, err := Install(f, cert, root, s.o.Now()); err != nil {
		return nil, &engine.KindError{Kind: ErrInvalid, Msg: err.Error()}
	}
	return s.changed(source, f)
}

// Import installs a JKS or PKCS#12 keystore's identity; replacing a
// different private key needs force. It zeroes password and o.KeyPassword.
func (s *Service) Import(source string, keystore, password []byte, o KeystoreOptions, force bool) (*Cert, error) {
	defer clear(password)
	defer clear(o.KeyPassword)
	f, err := s.files(source)
	if err != nil {
		return nil, err
	}
	info, err := ImportWith(f, keystore, password, o, s.o.Now(), force)
	if errors.Is(err, ErrKeyExists) {
		return nil, engine.Errorf(ErrKeyExists, "%s already has a different private key; confirm replacing it with the keystore's (a key waiting for a CSR's certificate stays pending)", source)
	}
	if err != nil {
		return nil, &engine.KindError{Kind: ErrInvalid, Msg: err.Error()}
	}
	c, err := s.changed(source, f)
	if err == nil {
		c.Info = info // as the keystore described it (format, alias)
	}
	return c, err
}

// changed tells the source its identity files changed and describes them.
func (s *Service) changed(source string, f Files) (*Cert, error) {
	if s.o.Changed != nil {
		s.o.Changed(source)
	}
	return s.installed(source, f)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
