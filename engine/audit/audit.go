// Package audit is the tamper-evident activity log's arithmetic: the
// canonical encoding of an event, the hash chain that links events, the
// checkpoint text that is signed, and the walk that checks a chain and names
// the first event that does not match. No I/O: the store feeds it rows, the
// daemon signs what it produces.
package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
)

// HashSize is the size of every chain hash (SHA-256).
const HashSize = sha256.Size

// Hash is one link of the chain.
type Hash [HashSize]byte

// Genesis is the "previous hash" of the first event of a chain.
var Genesis Hash

// DomainEvent is the label that starts every event hash, so a chain hash can
// never be confused with another SHA-256 the product computes (fingerprints,
// archive digests).
const DomainEvent = "keyward/audit/event/v1"

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Short is the first 12 hex digits, for messages.
func (h Hash) Short() string { return hex.EncodeToString(h[:6]) }

// HashFrom copies b into a Hash; ok is false when b is not HashSize bytes.
func HashFrom(b []byte) (Hash, bool) {
	var h Hash
	if len(b) != HashSize {
		return h, false
	}
	copy(h[:], b)
	return h, true
}

// Canonical is the event's canonical encoding, the bytes the chain vouches
// for: the event's id and time (Unix milliseconds) as 8-byte big-endian
// signed integers, then key_id, source, operation, actor, origin, severity
// and details, each as a 4-byte big-endian length and its UTF-8 bytes. Every
// field the activity log stores is in it, in that fixed order; nothing is
// optional, so no two different events encode the same.
func Canonical(e engine.Event) []byte {
	fields := []string{e.KeyID, e.Source, e.Operation, e.Actor, string(e.Origin), string(e.Severity), e.Details}
	n := 16
	for _, f := range fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint64(b, uint64(e.ID))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMilli()))
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// Link is the hash of the event at seq following prev:
// SHA-256(DomainEvent, 0x00, seq as 8 bytes big-endian, prev, Canonical(e)).
func Link(seq int64, prev Hash, e engine.Event) Hash {
	h := sha256.New()
	h.Write([]byte(DomainEvent))
	h.Write([]byte{0})
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], uint64(seq))
	h.Write(s[:])
	h.Write(prev[:])
	h.Write(Canonical(e))
	var out Hash
	h.Sum(out[:0])
	return out
}

// Entry is one event as the log holds it, with its place in the chain.
type Entry struct {
	Seq   int64
	Prev  Hash
	Hash  Hash
	Event engine.Event
}

// Tampering kinds a Break names.
const (
	Edited    = "edited"
	Deleted   = "deleted"
	Reordered = "reordered"
	Inserted  = "inserted"
)

// Break is the first place a chain does not match.
type Break struct {
	Kind    string // Edited, Deleted, Reordered, Inserted
	Seq     int64  // the sequence number where the walk stopped
	EventID int64  // the event found there (0 when none)
	Detail  string
}

func (b *Break) Error() string {
	id := ""
	if b.EventID != 0 {
		id = fmt.Sprintf(" (event id %d)", b.EventID)
	}
	return fmt.Sprintf("audit chain broken at seq %d%s: %s: %s", b.Seq, id, b.Kind, b.Detail)
}

// Walk checks a chain event by event, in sequence order.
type Walk struct {
	next int64
	prev Hash
	// Lookup finds the sequence number of the event whose hash is h, to
	// tell a reordered event from an edited one (nil: never found).
	Lookup func(h Hash) (seq int64, ok bool)
}

// NewWalk starts a walk that expects seq next after an event hashing to prev
// (1 and Genesis for a whole chain).
func NewWalk(next int64, prev Hash) *Walk { return &Walk{next: next, prev: prev} }

// Next is the sequence number the walk expects; Head the hash it has reached.
func (w *Walk) Next() int64 { return w.next }

// Head is the hash of the last event checked.
func (w *Walk) Head() Hash { return w.prev }

// Check takes the next entry and returns a Break when it does not follow.
func (w *Walk) Check(e Entry) *Break {
	self := Link(e.Seq, e.Prev, e.Event) == e.Hash
	switch {
	case e.Seq > w.next:
		return &Break{Kind: Deleted, Seq: w.next, EventID: e.Event.ID,
			Detail: fmt.Sprintf("events seq %d to %d are missing: the next event in the log is seq %d", w.next, e.Seq-1, e.Seq)}
	case e.Seq < w.next:
		return &Break{Kind: Inserted, Seq: e.Seq, EventID: e.Event.ID,
			Detail: fmt.Sprintf("a second event with seq %d: the chain never gave that number twice", e.Seq)}
	case e.Prev == w.prev && !self:
		return &Break{Kind: Edited, Seq: e.Seq, EventID: e.Event.ID,
			Detail: "its content no longer matches the hash recorded with it"}
	case e.Prev != w.prev:
		var k int64
		var found bool
		if w.Lookup != nil {
			k, found = w.Lookup(e.Prev)
		}
		switch {
		case found && k > e.Seq-1:
			return &Break{Kind: Reordered, Seq: e.Seq, EventID: e.Event.ID,
				Detail: fmt.Sprintf("it was recorded after the event now at seq %d, not after seq %d", k, e.Seq-1)}
		case found && k < e.Seq-1:
			return &Break{Kind: Inserted, Seq: e.Seq, EventID: e.Event.ID,
				Detail: fmt.Sprintf("it was recorded right after seq %d: the event(s) now at seq %d to %d were put in later", k, k+1, e.Seq-1)}
		case self:
			return &Break{Kind: Edited, Seq: e.Seq - 1, EventID: e.Event.ID,
				Detail: fmt.Sprintf("the event before seq %d was changed and its hash recomputed (seq %d links to a hash the log no longer holds)", e.Seq, e.Seq)}
		default:
			return &Break{Kind: Deleted, Seq: e.Seq, EventID: e.Event.ID,
				Detail: "the event it was recorded after is no longer in the log (deleted, and the later events renumbered), or it was edited"}
		}
	}
	w.next++
	w.prev = e.Hash
	return nil
}

// Checkpoint is a signed statement of the chain's state: Size events, the
// last of which hashes to Head, at Time.
type Checkpoint struct {
	Origin string
	Size   int64
	Head   Hash
	Time   time.Time
}

// ErrCheckpoint is wrapped by every checkpoint parse error.
var ErrCheckpoint = errors.New("not a keyward audit checkpoint")

// Text is the checkpoint's note body (the text that is signed), in the
// layout of the transparency-log checkpoint format: the origin line, the
// size in decimal, the head hash in base64, then the extension line
// "time <RFC 3339 UTC>". The head is a hash chain's, not a Merkle root.
func (c Checkpoint) Text() string {
	return fmt.Sprintf("%s\n%d\n%s\ntime %s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Head[:]),
		c.Time.UTC().Format(time.RFC3339Nano))
}

// ParseCheckpoint reads a checkpoint's note body (see Text).
func ParseCheckpoint(text string) (Checkpoint, error) {
	var c Checkpoint
	lines := strings.Split(text, "\n")
	if len(lines) != 5 || lines[4] != "" {
		return c, fmt.Errorf("%w: want 4 lines (origin, size, head hash, time), got %d", ErrCheckpoint, len(lines)-1)
	}
	if lines[0] == "" || strings.TrimSpace(lines[0]) != lines[0] {
		return c, fmt.Errorf("%w: empty origin line", ErrCheckpoint)
	}
	c.Origin = lines[0]
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return c, fmt.Errorf("%w: size %q is not a decimal count", ErrCheckpoint, lines[1])
	}
	c.Size = n
	b, err := base64.StdEncoding.DecodeString(lines[2])
	h, ok := HashFrom(b)
	if err != nil || !ok {
		return c, fmt.Errorf("%w: head %q is not a base64 SHA-256", ErrCheckpoint, lines[2])
	}
	c.Head = h
	ts, ok := strings.CutPrefix(lines[3], "time ")
	if !ok {
		return c, fmt.Errorf("%w: line 4 must be \"time <RFC 3339>\"", ErrCheckpoint)
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return c, fmt.Errorf("%w: time %q: %v", ErrCheckpoint, ts, err)
	}
	c.Time = t.UTC()
	return c, nil
}

// SecurityOps are the operations whose events are kept past the ordinary
// retention age (the retention.security_events floor): a key compromised,
// destroyed, deleted or purged, a client identity changed, a request
// refused, a request whose outcome is unknown because the daemon stopped
// inside it (it may have destroyed or rotated a key, and it is the only
// record of who asked). Any operation naming a role ("role-…") is too
// (RoleMarker).
var SecurityOps = []string{engine.OpCompromised, engine.OpDestroyed, engine.OpDeleted, engine.OpPurged, engine.OpRefused, engine.OpUnanswered,
	"client-key-created", "client-certificate-installed", "client-keystore-imported", "kmip-identity-changed"}

// RoleMarker in an operation's name makes it security-relevant.
const RoleMarker = "role"

// SecurityRelevant says whether op is one of SecurityOps or names a role.
func SecurityRelevant(op string) bool {
	for _, s := range SecurityOps {
		if op == s {
			return true
		}
	}
	return strings.Contains(op, RoleMarker)
}
