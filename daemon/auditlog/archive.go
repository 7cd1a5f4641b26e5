package auditlog

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
)

// An archive segment is two files in the archive directory:
//
//	events-<first>-<last>.ndjson.gz       the events, one JSON object a line (archiveEvent), gzip
//	events-<first>-<last>.ndjson.gz.note  a signed note: "keyward audit archive v1", then
//	                                      "first <seq> <base64 hash before it>",
//	                                      "last <seq> <base64 hash of it>",
//	                                      "sha256 <hex of the .gz file>"
//
// with first and last zero-padded to 12 digits, so the names sort in chain
// order.
const archiveOrigin = "keyward audit archive v1"

// archiveEvent is one line of a segment: the event and its chain columns.
type archiveEvent struct {
	Seq       int64  `json:"seq"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
	ID        int64  `json:"id"`
	TimeMS    int64  `json:"time_ms"`
	KeyID     string `json:"key_id"`
	Source    string `json:"source"`
	Operation string `json:"operation"`
	Actor     string `json:"actor"`
	Origin    string `json:"origin"`
	Severity  string `json:"severity"`
	Details   string `json:"details"`
}

func toArchive(e audit.Entry) archiveEvent {
	return archiveEvent{Seq: e.Seq, Prev: base64.StdEncoding.EncodeToString(e.Prev[:]), Hash: base64.StdEncoding.EncodeToString(e.Hash[:]),
		ID: e.Event.ID, TimeMS: e.Event.Time.UnixMilli(), KeyID: e.Event.KeyID, Source: e.Event.Source, Operation: e.Event.Operation,
		Actor: e.Event.Actor, Origin: string(e.Event.Origin), Severity: string(e.Event.Severity), Details: e.Event.Details}
}

func (a archiveEvent) entry() (audit.Entry, error) {
	e := audit.Entry{Seq: a.Seq, Event: engine.Event{ID: a.ID, Time: time.UnixMilli(a.TimeMS).UTC(), KeyID: a.KeyID, Source: a.Source,
		Operation: a.Operation, Actor: a.Actor, Origin: engine.Origin(a.Origin), Severity: engine.Severity(a.Severity), Details: a.Details}}
	var ok bool
	p, err1 := base64.StdEncoding.DecodeString(a.Prev)
	h, err2 := base64.StdEncoding.DecodeString(a.Hash)
	if e.Prev, ok = audit.HashFrom(p); !ok || err1 != nil {
		return e, fmt.Errorf("seq %d: prev is not a base64 SHA-256", a.Seq)
	}
	if e.Hash, ok = audit.HashFrom(h); !ok || err2 != nil {
		return e, fmt.Errorf("seq %d: hash is not a base64 SHA-256", a.Seq)
	}
	return e, nil
}

// SegmentName is the file name of the segment of events first..last.
func SegmentName(first, last int64) string {
	return fmt.Sprintf("events-%012d-%012d.ndjson.gz", first, last)
}

// WriteSegment writes entries (a contiguous run of the chain) as a signed
// segment in dir: the data file and its note are written to temporary
// names, synced, renamed into place and the directory synced, so a crash
// leaves no half segment under a segment's name.
func WriteSegment(dir string, signer *Signer, entries []audit.Entry) (string, error) {
	if len(entries) == 0 {
		return "", errors.New("archive: no events")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("archive directory: %w", err)
	}
	first, last := entries[0], entries[len(entries)-1]
	name := SegmentName(first.Seq, last.Seq)
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".segment-*")
	if err != nil {
		return "", fmt.Errorf("archive: %w", err)
	}
	defer os.Remove(tmp.Name())
	sum := sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(tmp, sum))
	enc := json.NewEncoder(zw)
	for _, e := range entries {
		if err := enc.Encode(toArchive(e)); err != nil {
			tmp.Close()
			return "", fmt.Errorf("archive %s: %w", name, err)
		}
	}
	err = zw.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	text := fmt.Sprintf("%s\nfirst %d %s\nlast %d %s\nsha256 %s\n", archiveOrigin, first.Seq, base64.StdEncoding.EncodeToString(first.Prev[:]),
		last.Seq, base64.StdEncoding.EncodeToString(last.Hash[:]), hex.EncodeToString(sum.Sum(nil)))
	signed, err := note.Sign(&note.Note{Text: text}, signer.signer)
	if err != nil {
		return "", fmt.Errorf("sign archive %s: %w", name, err)
	}
	if err := writeSynced(path+".note.tmp", signed); err != nil {
		return "", err
	}
	// The data first, then its note: a segment without its note is
	// unfinished and is written again by the next run.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	if err := os.Rename(path+".note.tmp", path+".note"); err != nil {
		return "", fmt.Errorf("archive %s: %w", name, err)
	}
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return "", fmt.Errorf("archive directory %s: %w", dir, err)
		}
	}
	return name, nil
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("archive %s: %w", path, err)
	}
	return nil
}

// segment is a segment found in an archive directory.
type segment struct {
	path        string
	first, last int64
	prev, head  audit.Hash
	sum         string
}

// segments lists the finished segments of dir (a data file with its note),
// checks each note's signature, and sorts them by first event.
func segments(dir string, v note.Verifier) ([]segment, error) {
	names, err := filepath.Glob(filepath.Join(dir, "events-*.ndjson.gz.note"))
	if err != nil {
		return nil, err
	}
	var out []segment
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("archive: %w", err)
		}
		nt, err := note.Open(b, note.VerifierList(v))
		if err != nil {
			return nil, fmt.Errorf("archive segment %s: signature: %w", n, err)
		}
		s, err := parseSegmentNote(nt.Text)
		if err != nil {
			return nil, fmt.Errorf("archive segment %s: %w", n, err)
		}
		s.path = strings.TrimSuffix(n, ".note")
		if filepath.Base(s.path) != SegmentName(s.first, s.last) {
			return nil, fmt.Errorf("archive segment %s: its signed note covers seq %d to %d: the file was renamed", n, s.first, s.last)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].first < out[j].first })
	return out, nil
}

// parseSegmentNote reads a segment note's text.
func parseSegmentNote(text string) (segment, error) {
	var s segment
	lines := strings.Split(text, "\n")
	if len(lines) != 5 || lines[0] != archiveOrigin || lines[4] != "" {
		return s, fmt.Errorf("not a keyward archive note (%q, then first, last and sha256 lines)", archiveOrigin)
	}
	seqHash := func(line, word string) (int64, audit.Hash, error) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != word {
			return 0, audit.Hash{}, fmt.Errorf("line %q: want %q, a seq and a base64 hash", line, word)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		b, err2 := base64.StdEncoding.DecodeString(f[2])
		h, ok := audit.HashFrom(b)
		if err != nil || err2 != nil || !ok || n < 1 {
			return 0, h, fmt.Errorf("line %q: bad seq or hash", line)
		}
		return n, h, nil
	}
	var err error
	if s.first, s.prev, err = seqHash(lines[1], "first"); err != nil {
		return s, err
	}
	if s.last, s.head, err = seqHash(lines[2], "last"); err != nil {
		return s, err
	}
	sum, ok := strings.CutPrefix(lines[3], "sha256 ")
	if b, err := hex.DecodeString(sum); !ok || err != nil || len(b) != sha256.Size {
		return s, fmt.Errorf("line %q: want sha256 and 64 hex digits", lines[3])
	}
	if s.last < s.first {
		return s, fmt.Errorf("last seq %d before first %d", s.last, s.first)
	}
	s.sum = sum
	return s, nil
}

// read streams a segment's events after checking its digest.
func (s segment) read(fn func(audit.Entry) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("archive segment %s: %w", s.path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("archive segment %s: %w", s.path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != s.sum {
		return fmt.Errorf("archive segment %s: its content does not match the digest its signed note gives: the file was changed", s.path)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("archive segment %s: %w", s.path, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	for sc.Scan() {
		var a archiveEvent
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			return fmt.Errorf("archive segment %s: %w", s.path, err)
		}
		e, err := a.entry()
		if err != nil {
			return fmt.Errorf("archive segment %s: %w", s.path, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("archive segment %s: %w", s.path, err)
	}
	return nil
}

// Archiver archives and prunes events per the retention settings.
type Archiver struct {
	St     *store.Store
	Signer *Signer
	Dir    string
	// Events and SecurityEvents are the retention ages (0: keep forever).
	Events, SecurityEvents time.Duration
	// Batch is the most events per segment (default 10,000: the prune
	// transaction that follows each holds the write lock only that long).
	Batch int64
	Now   func() time.Time
	// Mu, when set, is held for each segment (see Checkpointer.Mu).
	Mu *sync.Mutex
}

// Prune archives every run of events older than the retention age, then
// prunes them from the live log (keeping security-relevant ones until their
// floor), one segment and one transaction at a time. It returns the events
// archived and pruned.
func (a *Archiver) Prune(ctx context.Context) (archived, pruned int64, err error) {
	if a.Events <= 0 {
		return 0, 0, nil
	}
	batch := a.Batch
	if batch <= 0 {
		batch = 10000
	}
	now := a.Now()
	keepAfter := time.UnixMilli(math.MinInt64 / 2) // security_events "0": kept forever
	if a.SecurityEvents > 0 {
		keepAfter = now.Add(-a.SecurityEvents)
	}
	if err := a.removeUnfinished(ctx); err != nil {
		return 0, 0, err
	}
	for ctx.Err() == nil {
		n, p, done, err := a.segment(ctx, now, batch, keepAfter)
		archived, pruned = archived+n, pruned+p
		if err != nil {
			return archived, pruned, err
		}
		if done {
			break
		}
	}
	if a.SecurityEvents > 0 {
		n, err := a.St.PruneKept(ctx, keepAfter)
		pruned += n
		if err != nil {
			return archived, pruned, err
		}
	}
	return archived, pruned, ctx.Err()
}

// segment archives and prunes the next run of old events (done: none is
// left). Its chain is checked before anything is written: a run that does
// not match is neither archived nor pruned.
func (a *Archiver) segment(ctx context.Context, now time.Time, batch int64, keepAfter time.Time) (archived, pruned int64, done bool, err error) {
	if a.Mu != nil {
		a.Mu.Lock()
		defer a.Mu.Unlock()
	}
	from, to, err := a.St.ArchiveRange(ctx, now.Add(-a.Events), batch)
	if err != nil || to < from {
		return 0, 0, err == nil, err
	}
	head, err := a.St.AuditHead(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	w := audit.NewWalk(from, head.ArchivedHash) // 32 zero bytes, Genesis, before the first segment
	var entries []audit.Entry
	err = a.St.ChainEntries(ctx, from, to, func(r store.ChainRow) error {
		if r.BadRow {
			return fmt.Errorf("event id %d has no valid place in the chain", r.Event.ID)
		}
		if r.Seq < from {
			return nil
		}
		if b := w.Check(r.Entry); b != nil {
			return b
		}
		entries = append(entries, r.Entry)
		return nil
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("archive events %d to %d: the chain does not match, nothing is archived or pruned: %w", from, to, err)
	}
	if int64(len(entries)) != to-from+1 {
		return 0, 0, false, fmt.Errorf("archive events %d to %d: found %d of them", from, to, len(entries))
	}
	name, err := WriteSegment(a.Dir, a.Signer, entries)
	if err != nil {
		return 0, 0, false, err
	}
	n, err := a.St.MarkArchived(ctx, store.Archived{Name: name, First: from, Last: to, LastHash: entries[len(entries)-1].Hash,
		Created: now, KeepAfter: keepAfter})
	if err != nil {
		return 0, 0, false, err
	}
	return int64(len(entries)), n, false, nil
}

// removeUnfinished deletes what a run cut short left in the directory:
// temporary files, and segments past the last one the database records
// (written, but the crash came before their events were marked archived;
// the next run writes them again, perhaps over a longer range).
func (a *Archiver) removeUnfinished(ctx context.Context) error {
	head, err := a.St.AuditHead(ctx)
	if err != nil {
		return err
	}
	tmps, _ := filepath.Glob(filepath.Join(a.Dir, ".segment-*"))
	notes, _ := filepath.Glob(filepath.Join(a.Dir, "events-*.note.tmp"))
	for _, t := range append(tmps, notes...) {
		os.Remove(t)
	}
	data, _ := filepath.Glob(filepath.Join(a.Dir, "events-*.ndjson.gz"))
	for _, d := range data {
		var first, last int64
		if _, err := fmt.Sscanf(filepath.Base(d), "events-%d-%d.ndjson.gz", &first, &last); err != nil {
			continue
		}
		if first > head.ArchivedSeq {
			os.Remove(d + ".note")
			if err := os.Remove(d); err != nil {
				return fmt.Errorf("archive: remove unfinished segment: %w", err)
			}
		}
	}
	return nil
}
