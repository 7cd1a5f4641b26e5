// Package keyring holds the data-encryption key generations of each
// application in memory: the newest Active generation encrypts, any retained
// generation decrypts, looked up by the short id derived from its
// fingerprint; a dropped generation's material is zeroed.
//
// Ordering rule of a ring, newest first, from the KMS's own facts:
//
//  1. Version: when one prefix carries more generation numbers than any
//     other and at least as many as all other names together
//     (acme.crm.key.7, or -7 / _7), the highest number is newest. Numbers
//     compare by value whatever their size (key.10 after key.9, key.007 is
//     7). Names without a number, or with another prefix (another case
//     counts), are left out of the ring with a reason: they never encrypt
//     and never reorder it. Two objects with the same number: the one the
//     ring holds keeps it, else the first activated (then created, then
//     the lowest identifier); the other is left out.
//  2. Otherwise, when every candidate has an Activation Date, the latest
//     activation is newest.
//  3. Otherwise the Initial Date decides; a key without one sorts oldest.
//
// Date ties break by name, then by the KMS's unique identifier, both
// compared with numbers as numbers, so the order is total and stable across
// polls. A ring changes in two steps (Prepare, then Commit) so the caller
// can store the wrapped ring before a new generation encrypts. Only Active and Deactivated keys sit in a
// ring (Pre-Active keys wait outside until activated); a Compromised or
// Destroyed key leaves at once. The newest Active generation encrypts; every
// generation in the ring decrypts. A generation's fingerprint is the
// domain-separated SHA-256 of its material (Fingerprint) and its short id
// the first 48 bits of that, base64url (ShortID), stable across restarts.
package keyring

import (
	"errors"
	"sync/atomic"
)

// Sentinel errors callers branch on.
var (
	// ErrNoActiveKey: the application's ring holds no Active generation, so
	// nothing may be encrypted (the proxy fails closed).
	ErrNoActiveKey = errors.New("no active key generation in the ring")
	// ErrUnknownGeneration: no retained generation has that id (dropped
	// from the ring, or never seen).
	ErrUnknownGeneration = errors.New("unknown key generation")
	// ErrUnknownApplication: no ring is configured for that application.
	ErrUnknownApplication = errors.New("unknown application")
)

// KeySource is what the encryption proxy needs from the rings. Material is
// returned as a copy the caller must zero when done; Version changes whenever
// an application's ring changes, so a caller may cache ciphers derived from
// the material and drop them when it moves.
type KeySource interface {
	// EncryptionKey returns the short id and a copy of the 32-byte material
	// of app's newest Active generation.
	EncryptionKey(app string) (id string, key []byte, err error)
	// DecryptionKey returns a copy of the material of the generation of app
	// whose short id is id, if the ring still holds it and its state allows
	// decryption.
	DecryptionKey(app, id string) ([]byte, error)
	// Version is a counter that moves whenever app's ring changes.
	Version(app string) uint64
}

// VersionCounter is implemented by a KeySource whose Version can be read
// without a lock: a caller that checks the version on every operation (the
// token codec, once per field) loads the counter instead of calling Version.
type VersionCounter interface {
	// VersionCounter returns the counter whose value Version(app) reports,
	// or nil while app has no ring (the caller asks again later).
	VersionCounter(app string) *atomic.Uint64
}
