package engine

import "time"

// Usage is how often the encryption proxy used one key generation for one
// application in one hour: the raw material of the Service/Usage report.
// KeyID is the generation's short id as written in ciphertext tokens; it is
// derived from the key's fingerprint (keyring.ShortID), so a report joins
// it to the inventory through Key.Fingerprint.
type Usage struct {
	Hour        time.Time `json:"hour"` // start of the hour, UTC
	Application string    `json:"application"`
	KeyID       string    `json:"key_id"`
	Encrypts    int64     `json:"encrypts"`
	Decrypts    int64     `json:"decrypts"`
	// Last is the latest use in the hour (zero when not known: usage
	// recorded before keyward kept it).
	Last time.Time `json:"last_use,omitzero"`
}

// KeyUse sums one key generation's recorded use over a window.
type KeyUse struct {
	Encrypts, Decrypts int64
	// LastDecrypt is the start of the latest hour with a decrypt (zero
	// when none was recorded).
	LastDecrypt time.Time
}
