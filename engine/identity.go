package engine

import (
	"fmt"
	"time"
)

// Certificate describes a client certificate and its chain as a keystore
// or a PEM file holds them (never the key): what the identity service
// reads and the socket API shows of an installed identity.
type Certificate struct {
	Format     string    `json:"format"` // "PEM", "JKS" or "PKCS#12"
	Alias      string    `json:"alias,omitempty"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	Serial     string    `json:"serial,omitempty"`
	KeyType    string    `json:"key_type"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	ChainLen   int       `json:"chain_length"`
	ClientAuth bool      `json:"client_auth"`
}

// ClientIdentity is the client certificate a KMIP source presents to its
// KMS now.
type ClientIdentity struct {
	// Origin is "config" (cert_file or keystore_file in keyward.toml) or
	// "installed" (keyward cert, in the data dir); From names the files.
	Origin   string    `json:"origin"`
	From     string    `json:"from"`
	Subject  string    `json:"subject,omitempty"`
	Issuer   string    `json:"issuer,omitempty"`
	Serial   string    `json:"serial,omitempty"`
	KeyType  string    `json:"key_type,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	// Since is when the source loaded it.
	Since time.Time `json:"since,omitzero"`
	// Error says why the files cannot be loaded (then the identity above,
	// if any, stays in use).
	Error string `json:"error,omitempty"`
}

// String is the identity in one line.
func (c *ClientIdentity) String() string {
	if c == nil {
		return ""
	}
	s := "none"
	if c.Subject != "" {
		s = fmt.Sprintf("%s (serial %s, issuer %s, %s, until %s)", c.Subject, c.Serial, c.Issuer, c.KeyType, c.NotAfter.UTC().Format("2006-01-02"))
	}
	s += " from " + c.From
	if c.Error != "" {
		s += "; cannot load the files: " + c.Error
	}
	return s
}

// PendingKey is a key made by keyward cert csr that waits for its signed
// certificate; the identity in use stays until then.
type PendingKey struct {
	KeyFile string    `json:"key_file"`
	CSRFile string    `json:"csr_file"`
	Subject string    `json:"subject"` // the CSR's
	KeyType string    `json:"key_type"`
	Created time.Time `json:"created"`
}

// String is the pending key in one line.
func (p *PendingKey) String() string {
	return fmt.Sprintf("a new %s key for %s (CSR of %s) waits for its signed certificate (keyward cert install)", p.KeyType, p.Subject,
		p.Created.UTC().Format("2006-01-02 15:04"))
}
