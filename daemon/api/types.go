// Package api is keyward's socket API: the JSON types the daemon serves on its
// Unix socket under /v1 and a Go client for them, shared by the TUI and the
// CLI. The JSON field names are a stable contract for scripts.
package api

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyward/keyward/engine"
)

// Version is the API version prefix.
const Version = "v1"

// Role is what a caller on the socket may do.
type Role string

const (
	RoleNone  Role = ""      // refused
	RoleUser  Role = "user"  // read inventory and reports
	RoleAdmin Role = "admin" // also change state
)

// Error is the body of every non-2xx response.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Error codes.
const (
	CodeBadRequest  = "bad_request"
	CodeForbidden   = "forbidden"
	CodeNotFound    = "not_found"
	CodeConflict    = "conflict"
	CodeInternal    = "internal"
	CodeUnavailable = "unavailable"
)

// Status is GET /v1/status.
type Status struct {
	Version   string          `json:"version"`
	PID       int             `json:"pid"`
	StartedAt time.Time       `json:"started_at"`
	Socket    string          `json:"socket"`
	DataDir   string          `json:"data_dir"`
	Keys      int             `json:"keys"`
	Sources   []engine.Source `json:"sources"`
	Caller    Caller          `json:"caller"`
	// Audit is the activity log's chain (absent from daemons before it).
	Audit *AuditStatus `json:"audit,omitempty"`
}

// AuditStatus is the tamper-evident activity log's state.
type AuditStatus struct {
	// Events is the chain's length (the last event's seq).
	Events int64 `json:"events"`
	// Checkpoint is the last checkpoint the daemon signed after checking
	// the events it covers (absent: none yet).
	Checkpoint *AuditCheckpoint `json:"checkpoint,omitempty"`
	// Error says why the latest check failed: the chain does not match and
	// no checkpoint is signed over it until it is looked at.
	Error string `json:"error,omitempty"`
	// VerifierKey is the public key that checks the checkpoints and
	// archives (keep a copy off the box).
	VerifierKey string `json:"verifier_key,omitempty"`
}

// AuditCheckpoint is one signed checkpoint.
type AuditCheckpoint struct {
	Size       int64     `json:"size"`
	Head       string    `json:"head"` // hex SHA-256
	Time       time.Time `json:"time"`
	VerifiedAt time.Time `json:"verified_at"`
}

// Summary is the chain and its last verified checkpoint in a line, for
// the CLI and the TUI.
func (a *AuditStatus) Summary(now time.Time) string {
	if a == nil {
		return "audit: not reported by this daemon"
	}
	s := "audit: " + engine.Plural(int(a.Events), "event")
	if a.Error != "" { // first: it must not be cut off on a narrow terminal
		s = "audit: CHECK FAILED: " + a.Error + " · " + s[len("audit: "):]
	}
	if a.Checkpoint != nil {
		s += fmt.Sprintf(" · last verified checkpoint %d, signed %s ago · head %s", a.Checkpoint.Size,
			engine.HumanDuration(now.Sub(a.Checkpoint.Time)), a.Checkpoint.Head[:min(8, len(a.Checkpoint.Head))])
	} else {
		s += " · no checkpoint signed yet"
	}
	return s
}

// Caller is who the daemon thinks is asking, from the socket's peer credentials.
type Caller struct {
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	User string `json:"user"`
	Role Role   `json:"role"`
}

// KeysPage is GET /v1/keys: one page of the inventory.
type KeysPage struct {
	Keys       []engine.Key `json:"keys"`
	Total      int          `json:"total"`
	NextCursor string       `json:"next_cursor,omitempty"`
	// TotalAsOf is set when Total is not counted for this answer but read
	// from the aging summary computed at that instant (an aging filter on
	// a large inventory): an estimate that may lag recent changes. Since
	// the store keeps the aging dates (issue 18) totals are counted for
	// each answer and the daemon no longer sets it.
	TotalAsOf *time.Time `json:"total_as_of,omitempty"`
}

// KeyQuery selects keys for GET /v1/keys.
type KeyQuery struct {
	Source string
	State  string
	Aging  string
	Text   string
	Sort   string // name, source, state, created, expires; prefix "-" for descending
	Limit  int
	Cursor string
}

// KeyDetail is GET /v1/keys/{id}: one key with its recent activity.
type KeyDetail struct {
	Key      engine.Key     `json:"key"`
	Activity []engine.Event `json:"activity"`
	// Versions are the rows of every version of the key (Key's among
	// them), newest first, at most MaxKeyVersions; VersionsTotal counts
	// them all. Both are omitted for a key without versions (KMIP).
	Versions      []engine.Key `json:"versions,omitempty"`
	VersionsTotal int          `json:"versions_total,omitempty"`
}

// MaxKeyVersions is how many versions GET /v1/keys/{id} lists, the newest.
const MaxKeyVersions = 200

// EventsPage is GET /v1/activity.
type EventsPage struct {
	Events     []engine.Event `json:"events"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// Notification is one line of GET /v1/events (newline-delimited JSON). Type
// says what changed so a front end refreshes only that: "hello" (first line,
// with Status), "keys" (inventory of Source changed), "sources" (health
// changed), "activity" (Event recorded), "proxy" (Data holds a proxy status),
// "ring" (the key ring of the application in Source changed).
type Notification struct {
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Source string          `json:"source,omitempty"`
	Status *Status         `json:"status,omitempty"`
	Event  *engine.Event   `json:"event,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
	// Dropped, on a hello, says why the daemon cut this caller's previous
	// stream (it stopped reading), so a client knows it missed notifications.
	Dropped string `json:"dropped,omitempty"`
	// Seq numbers the daemon's notifications, from 1 since it started:
	// every notification carries its own and a hello the latest one sent
	// before it. What a client fetches after its hello includes every
	// change up to the hello's Seq; each later change comes as a
	// notification. A jump (Seq more than one past the previous) means the
	// daemon dropped notifications for this stream.
	Seq uint64 `json:"seq,omitempty"`
}

// Notification types.
const (
	NoteHello    = "hello"
	NoteKeys     = "keys"
	NoteSources  = "sources"
	NoteActivity = "activity"
	NoteProxy    = "proxy"
	// NoteRing says the key ring of the application named in Source
	// changed (a generation joined or left, a state moved, another one
	// encrypts): a front end showing rings fetches them again.
	NoteRing = "ring"
)

// SourceInfo is one entry of GET /v1/sources: a source's health plus
// kind-specific details (for a KMIP source, its application rings).
type SourceInfo struct {
	engine.Source
	Rings []RingInfo `json:"rings,omitempty"`
	// Poll is a KMIP source's latest poll, once it has polled.
	Poll *KMIPPoll `json:"poll,omitempty"`
	// Client is a KMIP source's client identity and TLS settings.
	Client *KMIPClient `json:"client,omitempty"`
	// Capabilities are the life-cycle operations a cloud source offers
	// (Cap*), as its connector declares them: front ends offer those and
	// no others.
	Capabilities []string `json:"capabilities,omitempty"`
}

// RingInfo describes one application's key ring: metadata only, never material.
type RingInfo struct {
	Application string           `json:"application"`
	Pattern     string           `json:"pattern,omitempty"`
	Capacity    int              `json:"capacity"`
	Generations []GenerationInfo `json:"generations"`
	LastChange  *time.Time       `json:"last_change,omitempty"`
	// Rule is the ordering rule the ring follows: version,
	// activation-date or initial-date.
	Rule string `json:"rule,omitempty"`
	// NextOut is the generation the next rotation pushes out of a full
	// ring (tokens made with it stop decrypting), with its recent use.
	NextOut *NextOut `json:"next_out,omitempty"`
}

// NextOut is the oldest generation of a full ring and how much it was
// still used to decrypt in the last Window.
type NextOut struct {
	Name        string     `json:"name"`
	KeyID       string     `json:"key_id"`
	Window      string     `json:"window"` // e.g. "7d"
	Decrypts    int64      `json:"decrypts"`
	LastDecrypt *time.Time `json:"last_decrypt,omitempty"`
	// Unknown is set when the usage could not be read.
	Unknown bool `json:"unknown,omitempty"`
}

// GenerationInfo is one generation of a key ring (engine.GenerationInfo).
type GenerationInfo = engine.GenerationInfo
