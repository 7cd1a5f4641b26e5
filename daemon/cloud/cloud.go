// Package cloud is what every cloud key vault connector (Azure Key Vault now,
// AWS KMS and Google Cloud KMS next) plugs into: a small Connector interface
// with a capability set, a generic synchronising source that turns a vault's
// listing into inventory rows and activity events, and a Manager that runs
// the admin-only life-cycle operations and keeps backups sealed in the store.
package cloud

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// Connector is one cloud vault. Connectors live one per package
// (daemon/cloud/azure, ...). Errors should be *Error values so the sync
// source can report a precise degraded reason.
type Connector interface {
	// Kind is the cloud type: "azure", "aws", "gcp".
	Kind() string
	// Address says where the vault is (URL), never a secret.
	Address() string
	// Geography is the region group backups may be restored within ("" =
	// unknown: restore anywhere of the same kind).
	Geography() string
	// Capabilities is what this vault supports.
	Capabilities() Capabilities

	// ListKeys calls page for each page of live keys. Each entry describes
	// the key's current version; Updated moves when the key changes.
	ListKeys(ctx context.Context, page func([]KeyVersion) error) error
	// ListDeleted calls page for each page of soft-deleted keys.
	ListDeleted(ctx context.Context, page func([]KeyVersion) error) error
	// Versions returns every version of one live key.
	Versions(ctx context.Context, name string) ([]KeyVersion, error)
	// Get returns one version ("" = current) with its type and size.
	Get(ctx context.Context, name, version string) (KeyVersion, error)

	Create(ctx context.Context, r CreateRequest) (KeyVersion, error)
	Import(ctx context.Context, r ImportRequest) (KeyVersion, error)
	Rotate(ctx context.Context, name string) (KeyVersion, error)
	Update(ctx context.Context, name, version string, u Update) (KeyVersion, error)
	// Delete soft-deletes a key; the answer carries Deleted and PurgeAt.
	Delete(ctx context.Context, name string) (KeyVersion, error)
	Recover(ctx context.Context, name string) (KeyVersion, error)
	Purge(ctx context.Context, name string) error
	// Backup returns the vault's opaque backup blob of every version.
	Backup(ctx context.Context, name string) ([]byte, error)
	Restore(ctx context.Context, blob []byte) (KeyVersion, error)
	RotationPolicy(ctx context.Context, name string) (RotationPolicy, error)
	SetRotationPolicy(ctx context.Context, name string, p RotationPolicy) (RotationPolicy, error)
}

// SpecChecker is implemented by a connector whose clouds create other key
// types than RSA and EC (AWS: symmetric and HMAC keys): the Manager lets
// it judge a create request's type, size and curve, before any request.
type SpecChecker interface {
	CheckSpec(r CreateRequest) error
}

// NameChecker is implemented by a connector whose cloud names keys
// otherwise than Azure's rule of letters, digits and dashes (Google:
// location/ring/key, as the inventory shows its keys, or a key ID with
// underscores): the Manager lets it judge a new key's name, before any
// request.
type NameChecker interface {
	CheckName(name string) error
}

// SpecLister is implemented by a connector that declares which key specs
// it can create, each "TYPE [SIZE|CURVE]" as a create request names them
// ("oct", "RSA 3072", "EC P-384", "HMAC 256"): front ends offer these and
// no others.
type SpecLister interface {
	CreateSpecs() []string
}

// CreateOption is a choice a create request makes by a tag, beside its
// key spec (Google's purpose, algorithm and protection level): the tag,
// its name and hint in a form, and the values it takes (none: any, the
// connector judges). Left empty, the tag is not sent and the connector's
// default applies.
type CreateOption struct {
	Tag    string
	Name   string
	Hint   string
	Values []string
}

// OptionLister is implemented by a connector that declares the options a
// create request may set by tag: front ends offer these beside the specs.
type OptionLister interface {
	CreateOptions() []CreateOption
}

// CloudClock is implemented by a connector that reads its cloud's clock
// from its answers (their Date header): a sync then compares the Updated
// times the cloud lists with the cloud's time, not keyward's, so a cloud
// whose clock runs minutes behind does not hide a change made in the same
// second as the previous listing.
type CloudClock interface {
	// CloudNow is the cloud's time now, as its last answer showed it
	// (keyward's clock before any answer came).
	CloudNow() time.Time
}

// Attributor is implemented by a connector whose cloud records who
// changed a key (Google's admin-activity audit log): the sync hands it the
// events of changes made outside keyward, between from and to, and it sets
// each one's Actor to whoever made the change, when its log says.
type Attributor interface {
	Attribute(ctx context.Context, evs []*engine.Event, from, to time.Time) error
}

// MaterialKeeper is implemented by a connector whose cloud cannot export
// keys (AWS): what keyward uploads is kept, sealed under the KEK, as the
// key's backup, and Restore re-imports it into the same key.
type MaterialKeeper interface {
	// KeepMaterial returns the backup blob of the key kv that r just
	// imported (its material; the Manager seals and zeroes it).
	KeepMaterial(kv KeyVersion, r ImportRequest) ([]byte, error)
}

// ExpiringRestorer is implemented by a connector whose re-import sets
// the material's expiry (engine.CapMaterialExpiry, AWS): RestoreExpiring
// is Restore with exp in place of the expiry the kept copy holds, and
// says in its answer's Expires what the cloud stored.
type ExpiringRestorer interface {
	RestoreExpiring(ctx context.Context, blob []byte, exp MaterialExpiry) (KeyVersion, error)
}

// MaterialDeleter is implemented by a connector that can delete a key's
// imported material and leave the key (engine.CapDeleteMaterial).
type MaterialDeleter interface {
	DeleteMaterial(ctx context.Context, name string) (KeyVersion, error)
}

// RotationTracker is implemented by a connector whose rotation takes
// effect after its call returns (AWS's RotateKeyOnDemand is asynchronous:
// the key's material changes only when the rotation completes). Its mark
// changes as soon as a rotation is asked for — in progress or done — so a
// schedule that recorded it before rotating can tell, after a crash,
// that its call was made even though the key still looks the same.
type RotationTracker interface {
	RotationMark(ctx context.Context, name string) (string, error)
}

// Capabilities is the set of Cap* operations a connector supports.
type Capabilities []string

// Has reports whether c includes capability.
func (c Capabilities) Has(capability string) bool { return slices.Contains(c, capability) }

// KeyVersion is one key version as a cloud reports it: attributes only,
// never key material.
type KeyVersion struct {
	Name    string
	Version string // "" in key listings that do not say
	// Type is RSA, EC or oct; Size is the RSA modulus or curve size in bits.
	Type      string
	Curve     string
	Size      int
	Enabled   bool
	Created   time.Time
	Updated   time.Time
	NotBefore *time.Time
	Expires   *time.Time
	Tags      map[string]string
	Managed   bool
	// Deleted and PurgeAt are set for soft-deleted keys.
	Deleted *time.Time
	PurgeAt *time.Time
	// Destroyed is set for a version whose material the cloud destroyed
	// while the key lives on (Google Cloud KMS's DESTROYED versions).
	Destroyed *time.Time
	// Rotated is when the key was last rotated, where the cloud says
	// (AWS: its newest rotation; Google: its primary version's creation).
	// Nil: the sync takes the newest version's creation (Azure's current
	// version). Every row of the key ages from it (engine.Key.Rotated).
	Rotated *time.Time
	// Recovered is set by a create, upload or delete whose answer the
	// vault lost after doing the work: what keyward found it had done
	// ("the answer to CreateKey was lost; keyward found the key it made:
	// …"), for the administrator. Never set by a listing.
	Recovered string
}

// JoinRecovered joins what keyward found after lost answers of one
// operation's steps (KeyVersion.Recovered), leaving out the empty ones.
func JoinRecovered(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// CreateRequest asks the vault to generate a key.
type CreateRequest struct {
	Name      string
	Type      string // RSA or EC
	Size      int
	Curve     string
	NotBefore *time.Time
	Expires   *time.Time
	Tags      map[string]string
	Disabled  bool
}

// ImportRequest uploads key material generated elsewhere. Exactly one of
// Private (an *rsa.PrivateKey or *ecdsa.PrivateKey) and Symmetric is set.
// The connector must not keep either after returning.
type ImportRequest struct {
	Name      string
	Private   crypto.PrivateKey
	Symmetric []byte
	NotBefore *time.Time
	Expires   *time.Time
	Tags      map[string]string
}

// Update edits one version; nil fields stay unchanged.
type Update struct {
	Enabled   *bool
	NotBefore *time.Time
	Expires   *time.Time
	Tags      map[string]string
}

// Error kinds connectors report; callers branch with errors.Is.
var (
	// ErrCredential: the identity provider refused the credential (expired
	// secret, wrong certificate, unknown client).
	ErrCredential = errors.New("credential refused")
	// ErrAccess: the vault knows the caller but denies the operation (no
	// access policy or role assignment).
	ErrAccess = errors.New("access denied by the vault")
	// ErrUnreachable: DNS failure, connection refused, TLS failure, timeout.
	ErrUnreachable = errors.New("vault unreachable")
	// ErrThrottled: the vault answered 429; Error.RetryAfter says when to
	// come back.
	ErrThrottled = errors.New("throttled by the vault")
	// ErrBadAnswer: the vault answered something that is not a valid reply.
	ErrBadAnswer = errors.New("vault answered garbage")
	// ErrNotFound: no such key (or version, or backup).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the operation does not fit the key's state (e.g. create
	// over a soft-deleted key, purge of a live key).
	ErrConflict = errors.New("conflict with the key's state")
	// ErrInvalid: the request itself is wrong (bad name, size, curve).
	ErrInvalid = errors.New("invalid request")
	// ErrUnsupported: the connector lacks the capability.
	ErrUnsupported = errors.New("not supported by this cloud")
)

// Error is a classified connector error.
type Error struct {
	Kind       error  // one of the Err* sentinels
	Op         string // "list keys", "rotate acme-payments", ...
	Reason     string // what an administrator can act on
	RetryAfter time.Duration
	Err        error // underlying error, may be nil
}

func (e *Error) Error() string {
	msg := e.Kind.Error()
	if e.Op != "" {
		msg = e.Op + ": " + msg
	}
	if e.Reason != "" {
		reason := e.Reason
		if e.Kind == ErrUnsupported {
			// A connector's reason that is also a key's
			// keyward:unsupported tag starts "not supported: ",
			// which the kind has said already.
			reason = strings.TrimPrefix(reason, "not supported: ")
		}
		msg += ": " + reason
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	return msg
}

// Unwrap exposes the kind and the cause to errors.Is/As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Classify is a connector's error for a failed op: nil stays nil, an
// *Error is already classified and returned as it is, and any other error
// becomes the cause of an *Error whose Kind and Reason describe sets from
// it (e.Err).
func Classify(op string, err error, describe func(e *Error)) error {
	if err == nil {
		return nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	e := &Error{Op: op, Err: err}
	describe(e)
	return e
}

// Says is a Reason followed by what the cloud (who: "AWS") said, when it
// said anything.
func Says(reason, who, msg string) string {
	if msg == "" {
		return reason
	}
	return reason + "; " + who + " says: " + msg
}

// RetryAfter returns how long a throttled error asks to wait (0 if none).
func RetryAfter(err error) time.Duration {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return 0
}

// Tags keyward sets on cloud keys it uploads, so the inventory can show
// where a key came from after any restart.
const (
	TagLinkedTo    = "keyward-linked-to"   // inventory ID of the source key
	TagApplication = "keyward-application" // application the key serves
)
