package engine

import "time"

// BackupInfo describes one stored cloud backup (the blob never leaves the
// daemon; it is stored wrapped under the key-encryption key). The JSON
// names are both the sealed record's format in SQLite and the socket
// API's: keep them stable.
type BackupInfo struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Kind      string    `json:"kind"`
	Geography string    `json:"geography,omitempty"`
	Key       string    `json:"key"`
	Versions  int       `json:"versions"`
	Created   time.Time `json:"created"`
	Size      int       `json:"size"`
	Actor     string    `json:"actor,omitempty"`
	// Pending is set for an upload a crash interrupted: what happened and
	// what to do (the entry holds the material, sealed, not a backup).
	Pending string `json:"pending,omitempty"`
}
