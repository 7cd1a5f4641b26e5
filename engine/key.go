package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// State is the life-cycle state of one key (or one key version). The KMIP
// states come first; cloud vaults add disabled (enabled=false) and deleted
// (soft-deleted, recoverable until purged).
type State string

const (
	StatePreActive   State = "pre-active"
	StateActive      State = "active"
	StateDeactivated State = "deactivated"
	StateCompromised State = "compromised"
	StateDestroyed   State = "destroyed"
	StateDisabled    State = "disabled"
	StateDeleted     State = "deleted"
	StatePurged      State = "purged"
)

// States lists every state in life-cycle order.
var States = []State{StatePreActive, StateActive, StateDisabled, StateDeactivated,
	StateCompromised, StateDeleted, StateDestroyed, StatePurged}

// ParseState accepts a state name as an administrator would type it.
func ParseState(s string) (State, error) {
	norm := State(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "_", "-"))
	if norm == "preactive" {
		norm = StatePreActive
	}
	for _, st := range States {
		if st == norm {
			return st, nil
		}
	}
	names := make([]string, len(States))
	for i, st := range States {
		names[i] = string(st)
	}
	return "", fmt.Errorf("unknown key state %q (want one of %s)", s, strings.Join(names, ", "))
}

// transitions is the set of moves a key may make. KMIP forbids going back to
// active from deactivated or compromised; a cloud key may be re-enabled,
// recovered from soft delete, or purged.
var transitions = map[State][]State{
	StatePreActive:   {StateActive, StateDeactivated, StateCompromised, StateDestroyed, StateDisabled, StateDeleted},
	StateActive:      {StateDeactivated, StateCompromised, StateDisabled, StateDeleted},
	StateDisabled:    {StateActive, StateDeleted, StateDeactivated, StateCompromised},
	StateDeactivated: {StateCompromised, StateDestroyed, StateDeleted},
	StateCompromised: {StateDestroyed, StateDeleted},
	StateDeleted:     {StateActive, StateDisabled, StatePurged},
	StateDestroyed:   {StateCompromised},
	StatePurged:      {},
}

// CanTransition reports whether a key may move from one state to another.
func CanTransition(from, to State) bool {
	if from == to {
		return true
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CanEncrypt reports whether a key in this state may protect new data.
func (s State) CanEncrypt() bool { return s == StateActive }

// CanDecrypt reports whether a key in this state may still open old data.
func (s State) CanDecrypt() bool { return s == StateActive || s == StateDeactivated }

// Terminal reports whether the key can never be used again.
func (s State) Terminal() bool {
	return s == StateCompromised || s == StateDestroyed || s == StatePurged
}

// Key is one row of the inventory: a key version in a KMS or a cloud vault.
// It never carries key material; Fingerprint is a one-way, domain-separated
// hash that tells generations apart.
type Key struct {
	ID          string     `json:"id"`
	Source      string     `json:"source"`
	Name        string     `json:"name"`
	Version     string     `json:"version,omitempty"`
	Algorithm   string     `json:"algorithm"`
	Length      int        `json:"length,omitempty"`
	State       State      `json:"state"`
	Application string     `json:"application,omitempty"`
	Fingerprint string     `json:"fingerprint,omitempty"`
	Created     *time.Time `json:"created,omitempty"`
	Activated   *time.Time `json:"activated,omitempty"`
	Expires     *time.Time `json:"expires,omitempty"`
	Deactivated *time.Time `json:"deactivated,omitempty"`
	Destroyed   *time.Time `json:"destroyed,omitempty"`
	Deleted     *time.Time `json:"deleted,omitempty"`
	PurgeAt     *time.Time `json:"purge_at,omitempty"`
	RotateAfter Duration   `json:"rotate_after,omitempty"`
	// Rotated is when the key was last rotated: when its current material
	// or version was made (a cloud key that rotates itself). Nil when the
	// key was never rotated or its source cannot say; aging then counts
	// from Created (AgedFrom).
	Rotated  *time.Time        `json:"rotated,omitempty"`
	Tags     map[string]string `json:"tags,omitempty"`
	LinkedTo string            `json:"linked_to,omitempty"`
	Updated  time.Time         `json:"updated"`
	// Aging is filled in when the key is served; it is never stored.
	Aging *Aging `json:"aging,omitempty"`
}

// KeyID is the inventory identifier of a key version: source/name[/version].
func KeyID(source, name, version string) string {
	if version == "" {
		return source + "/" + name
	}
	return source + "/" + name + "/" + version
}

// Age is how long the key has existed at now (zero when its creation is unknown).
func (k Key) Age(now time.Time) time.Duration {
	if k.Created == nil || now.Before(*k.Created) {
		return 0
	}
	return now.Sub(*k.Created)
}

// TagAliases is the tag in which a cloud lists a key's other names,
// comma-separated (AWS: its aliases, without "alias/"), when the key's
// own name is an opaque ID.
const TagAliases = "aws:aliases"

// DisplayName is the name that identifies the key to a person: its first
// alias when it has one (an AWS key's ID says nothing), else its Name.
// The ID, with the connector's name, stays in the details and the JSON.
func (k Key) DisplayName() string {
	if a, _, _ := strings.Cut(k.Tags[TagAliases], ","); a != "" {
		return a
	}
	return k.Name
}

// Aliases are every other name the key is known by (TagAliases), in the
// cloud's order: an administrator may know any of them, not only the
// first that DisplayName shows.
func (k Key) Aliases() []string {
	var out []string
	for _, a := range strings.Split(k.Tags[TagAliases], ",") {
		if a != "" {
			out = append(out, a)
		}
	}
	return out
}

// AgedFrom is the date rotation aging counts from: the last rotation
// when the source knows one, else the creation (nil when neither is known).
func (k Key) AgedFrom() *time.Time {
	if k.Rotated != nil {
		return k.Rotated
	}
	return k.Created
}

// Event is one entry of the activity log.
type Event struct {
	ID        int64     `json:"id"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id,omitempty"`
	Source    string    `json:"source,omitempty"`
	Operation string    `json:"operation"`
	Actor     string    `json:"actor"`
	Origin    Origin    `json:"origin"`
	Severity  Severity  `json:"severity,omitempty"`
	Details   string    `json:"details,omitempty"`
}

// Origin says where an activity happened.
type Origin string

const (
	OriginKeyward Origin = "keyward" // done through keyward (socket, CLI, TUI)
	OriginSource  Origin = "source"  // seen in the KMS or cloud, not done by keyward
	OriginProxy   Origin = "proxy"   // the encryption proxy
	OriginSystem  Origin = "system"  // the daemon itself (start, outages)
)

// Origins lists every origin.
var Origins = []Origin{OriginKeyward, OriginSource, OriginProxy, OriginSystem}

// Severity of an event: alerts are what an administrator must look at.
type Severity string

const (
	SeverityInfo  Severity = "info"
	SeverityWarn  Severity = "warning"
	SeverityAlert Severity = "alert"
)

// Operations recorded in the activity log.
const (
	OpCreated     = "created"
	OpDiscovered  = "discovered"
	OpSynced      = "synced"
	OpRotated     = "rotated"
	OpEdited      = "edited"
	OpEnabled     = "enabled"
	OpDisabled    = "disabled"
	OpActivated   = "activated"
	OpDeactivated = "deactivated"
	OpCompromised = "compromised"
	OpDestroyed   = "destroyed"
	OpDeleted     = "deleted"
	OpRecovered   = "recovered"
	OpPurged      = "purged"
	OpBackedUp    = "backed-up"
	// OpBackupDeleted: a backup keyward kept was deleted (the key in the
	// vault is untouched).
	OpBackupDeleted = "backup-deleted"
	OpRestored      = "restored"
	OpDropped       = "dropped-from-ring"
	// OpRingWarning: a ring needs attention without having changed (a
	// generation still in use leaves at the next rotation, a number went
	// backwards).
	OpRingWarning = "ring-warning"
	OpUploaded    = "uploaded"
	OpOutage      = "source-outage"
	OpRecovery    = "source-recovered"
	OpRefused     = "request-refused"
	OpDaemonStart = "daemon-started"
	// OpUnanswered: a state-changing socket request the daemon stopped
	// inside (kill -9, power loss) before it answered; its outcome is
	// unknown.
	OpUnanswered = "request-unanswered"
	// The proxy's: a field decrypted with a key that is no longer the
	// newest, and one rewrapped under the newest.
	OpDecrypted = "decrypted"
	OpRewrapped = "rewrapped"
	// A KMIP source's client identity.
	OpClientKeyCreated   = "client-key-created"
	OpClientCertInstall  = "client-certificate-installed"
	OpClientKeystoreUsed = "client-keystore-imported"
	// Schedules: their changes, runs and failed steps, and the reports
	// they write.
	OpScheduleCreated  = "schedule-created"
	OpScheduleEdited   = "schedule-edited"
	OpSchedulePaused   = "schedule-paused"
	OpScheduleResumed  = "schedule-resumed"
	OpScheduleDeleted  = "schedule-deleted"
	OpScheduleRun      = "schedule-run"
	OpScheduleStepFail = "schedule-step-failed"
	OpReportWritten    = "report-written"
)

// Operations is every operation the activity log records, the one list
// that filters (keyward report activity --operation) are checked against.
var Operations = []string{OpCreated, OpDiscovered, OpSynced, OpRotated, OpEdited, OpEnabled, OpDisabled, OpActivated,
	OpDeactivated, OpCompromised, OpDestroyed, OpDeleted, OpRecovered, OpPurged, OpBackedUp, OpBackupDeleted, OpRestored,
	OpDropped, OpRingWarning, OpUploaded, OpOutage, OpRecovery, OpRefused, OpDaemonStart, OpUnanswered, OpDecrypted, OpRewrapped,
	OpClientKeyCreated, OpClientCertInstall, OpClientKeystoreUsed, OpScheduleCreated, OpScheduleEdited, OpSchedulePaused,
	OpScheduleResumed, OpScheduleDeleted, OpScheduleRun, OpScheduleStepFail, OpReportWritten}

// CheckOperation returns nil for a recorded operation name, else an error
// that names the closest ones ("did you mean rotated?") and all of them.
func CheckOperation(op string) error {
	if slices.Contains(Operations, op) {
		return nil
	}
	var near []string
	for _, o := range Operations {
		if strings.HasPrefix(o, op) || strings.HasPrefix(op, o) || editDistance(o, op) <= 2 {
			near = append(near, o)
		}
	}
	msg := fmt.Sprintf("unknown operation %q", op)
	if len(near) > 0 {
		msg += " (did you mean " + strings.Join(near, " or ") + "?)"
	}
	return fmt.Errorf("%s; recorded operations: %s", msg, strings.Join(Operations, ", "))
}

// editDistance is the Levenshtein distance of a and b (short names only).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Health of a source.
type Health string

const (
	HealthUnknown  Health = "unknown"
	HealthOK       Health = "ok"
	HealthDegraded Health = "degraded"
)

// Source is a configured place keys come from: a KMS, a cloud vault, the demo.
type Source struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	Address  string     `json:"address,omitempty"`
	Health   Health     `json:"health"`
	Since    *time.Time `json:"since,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	LastSync *time.Time `json:"last_sync,omitempty"`
	Keys     int        `json:"keys"`
}

// SortField names a column keys can be sorted by.
type SortField string

const (
	SortName    SortField = "name"
	SortSource  SortField = "source"
	SortState   SortField = "state"
	SortCreated SortField = "created"
	SortExpires SortField = "expires"
)

// SortFields lists the sortable columns in the order the TUI cycles them.
var SortFields = []SortField{SortName, SortSource, SortState, SortCreated, SortExpires}

// SortKeys orders keys in place by field, ties broken by ID so the order is
// stable across calls. Keys with no date sort after keys with one; names
// are the ones shown (DisplayName: an AWS key's alias), as the store sorts.
func SortKeys(keys []Key, field SortField, desc bool) {
	less := func(a, b Key) int {
		switch field {
		case SortSource:
			return strings.Compare(a.Source, b.Source)
		case SortState:
			return strings.Compare(string(a.State), string(b.State))
		case SortCreated:
			return cmpTime(a.Created, b.Created)
		case SortExpires:
			return cmpTime(a.Expires, b.Expires)
		default:
			return compareNames(a.DisplayName(), b.DisplayName())
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		c := less(keys[i], keys[j])
		if desc {
			c = -c
		}
		if c == 0 {
			return keys[i].ID < keys[j].ID
		}
		return c < 0
	})
}

func cmpTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

// compareNames compares names so that a trailing number sorts numerically:
// acme.crm.key.10 comes after acme.crm.key.9.
func compareNames(a, b string) int {
	pa, na, oka := SplitVersion(a)
	pb, nb, okb := SplitVersion(b)
	if oka && okb && pa == pb {
		switch {
		case na < nb:
			return -1
		case na > nb:
			return 1
		}
		return 0
	}
	return strings.Compare(a, b)
}

// SplitVersion splits a name ending in ".N" or "-N" into its prefix and N.
func SplitVersion(name string) (prefix string, n int, ok bool) {
	i := len(name)
	for i > 0 && name[i-1] >= '0' && name[i-1] <= '9' {
		i--
	}
	if i == len(name) || i == 0 || len(name)-i > 9 {
		return name, 0, false
	}
	if c := name[i-1]; c != '.' && c != '-' && c != '_' {
		return name, 0, false
	}
	for _, c := range name[i:] {
		n = n*10 + int(c-'0')
	}
	return name[:i], n, true
}

// Filter selects keys. Empty fields match everything.
type Filter struct {
	Source string
	State  State
	Aging  Bucket
	// Text matches a substring of the name, the display name (an AWS
	// key's alias), ID, application, algorithm or fingerprint,
	// case-insensitively. (The store's query is narrower: the name, the
	// display name and the application, or a fingerprint prefix.)
	Text string
}

// Match reports whether k passes the filter.
func (f Filter) Match(k Key) bool {
	if f.Source != "" && k.Source != f.Source {
		return false
	}
	if f.State != "" && k.State != f.State {
		return false
	}
	if f.Aging != "" && (k.Aging == nil || k.Aging.Bucket != f.Aging) {
		return false
	}
	if f.Text != "" {
		t := strings.ToLower(f.Text)
		hay := strings.ToLower(k.ID + " " + k.Name + " " + strings.Join(k.Aliases(), " ") + " " + k.Application + " " + k.Algorithm + " " + k.Fingerprint)
		if !strings.Contains(hay, t) {
			return false
		}
	}
	return true
}

// FilterKeys returns the keys that pass f, in their original order.
func FilterKeys(keys []Key, f Filter) []Key {
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		if f.Match(k) {
			out = append(out, k)
		}
	}
	return out
}

// HealthEvent is the activity a change of a source's health records: one
// outage event when it becomes degraded, one recovery event when it comes
// back; nil otherwise (so retries of one outage record nothing).
func HealthEvent(source string, prev, next Health, reason string) *Event {
	switch {
	case next == HealthDegraded:
		return &Event{Source: source, Operation: OpOutage, Actor: "keyward", Origin: OriginSystem,
			Severity: SeverityWarn, Details: reason}
	case next == HealthOK && prev == HealthDegraded:
		return &Event{Source: source, Operation: OpRecovery, Actor: "keyward", Origin: OriginSystem}
	}
	return nil
}
