package cloud

import (
	"time"

	"github.com/keyward/keyward/engine"
)

// Caller is who asks for an operation (the activity log's actor). What a
// caller may do is the socket API's to decide (its route table), before
// the Manager is called.
type Caller struct {
	UID  int
	User string
}

// SourceInfo describes one cloud source and what it supports.
type SourceInfo struct {
	Name         string
	Kind         string
	Address      string
	Geography    string
	Capabilities Capabilities
	// Creates are the key specs the source can create (SpecLister), as
	// "TYPE [SIZE|CURVE]": nil when the connector does not say.
	Creates []string
	// Options are the tags a create request may set (OptionLister).
	Options []CreateOption
	// PrimaryTag is the tag whose value "true" marks a key's primary
	// version (PrimaryMaker): "" when the source has none to choose.
	PrimaryTag string
}

// UploadRequest imports a key into the vault (bring your own key):
// generated locally (Type/Size/Curve), taken from a KMIP source's ring
// (FromSource + FromApplication: its newest active generation), or read
// from a file (Material).
type UploadRequest struct {
	CreateRequest
	FromSource      string
	FromApplication string
	// Material is a key file's content (ParseMaterial): a private key or
	// symmetric material the administrator brings. Upload zeroes it.
	Material []byte
}

// UpdateRequest edits one version (latest when Version is empty). Nil
// fields are left unchanged; Tags, when non-nil, replace all tags.
type UpdateRequest struct {
	Version   string
	Enabled   *bool
	NotBefore *time.Time
	Expires   *time.Time
	Tags      map[string]string
}

// RestoreRequest restores a stored backup into Target ("" = the source it
// was taken from).
type RestoreRequest struct {
	Target string
	// Expiry, when set, is the expiry the re-imported material gets
	// instead of the kept copy's (only where the target declares
	// engine.CapMaterialExpiry): At nil = the material never expires.
	Expiry *MaterialExpiry
}

// MaterialExpiry is when re-imported key material expires: At nil = never.
type MaterialExpiry struct {
	At *time.Time
}

// String says it as the activity log does: "expires 2027-03-01T00:00:00Z"
// or "does not expire".
func (e MaterialExpiry) String() string {
	if e.At == nil {
		return "does not expire"
	}
	return "expires " + e.At.UTC().Format(time.RFC3339)
}

// RotationPolicy is a key's automatic rotation policy. Zero durations are
// unset.
type RotationPolicy struct {
	// RotateAfter rotates the key this long after its creation.
	RotateAfter engine.Duration
	// RotateBeforeExpiry rotates the key this long before it expires.
	RotateBeforeExpiry engine.Duration
	// ExpireAfter is the expiry given to new versions.
	ExpireAfter engine.Duration
	// NotifyBefore raises a near-expiry notification this long before expiry.
	NotifyBefore engine.Duration
}

// PeriodOnly refuses, as unsupported for reason, a policy that asks more
// than a rotation period: for a cloud whose rotation has nothing else
// (AWS KMS, Cloud KMS).
func (p RotationPolicy) PeriodOnly(op, reason string) error {
	if p.RotateBeforeExpiry > 0 || p.ExpireAfter > 0 || p.NotifyBefore > 0 {
		return &Error{Kind: ErrUnsupported, Op: op, Reason: reason}
	}
	return nil
}

// BackupInfo describes one stored cloud backup; its JSON is the sealed
// record's format in SQLite.
type BackupInfo = engine.BackupInfo

// KeyResult is the outcome of a life-cycle operation: the inventory rows
// of the key after it (one per version) and the activity recorded.
// Recovered, when set, says that the vault's answer was lost and what
// keyward found it had done (KeyVersion.Recovered): the front ends show it
// beside the outcome.
type KeyResult struct {
	Keys      []engine.Key
	Event     *engine.Event
	Recovered string
}
