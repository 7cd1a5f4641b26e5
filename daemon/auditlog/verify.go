package auditlog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
)

// VerifyOptions say what `keyward audit verify` checks the log against.
type VerifyOptions struct {
	// ArchiveDir holds the archive segments ("" or missing: none).
	ArchiveDir string
	// Verifier checks checkpoint and archive signatures.
	Verifier note.Verifier
	// Checkpoints are signed checkpoints from elsewhere (--from-checkpoint:
	// an off-box copy); the chain must reach each of them.
	Checkpoints [][]byte
}

// Report is what a verification covered.
type Report struct {
	Events       int64      // the chain's length (its last seq)
	Head         audit.Hash // the hash of its last event
	Segments     int        // archive segments read
	FromArchives int64      // events checked from archive segments
	Live         int64      // events checked in the database
	Checkpoints  int        // signed checkpoints the chain was found to reach (stored and given)
	Given        []audit.Checkpoint
	Last         *audit.Checkpoint // the newest checkpoint checked
	// ChainedUpto and ChainedAt: events up to ChainedUpto were in the log
	// before the chain existed; the chain vouches for them only from
	// ChainedAt.
	ChainedUpto int64
	ChainedAt   time.Time
	// Unanchored: the events up to this seq were archived to segments that
	// were not found; the check starts after them, from the hash the
	// database recorded (not a proof: see the README's audit model).
	Unanchored int64
}

type pendingCheckpoint struct {
	cp   audit.Checkpoint
	what string
}

// Verify recomputes the whole chain, from the archive segments and the
// live log, checks every signature, and checks the chain reaches every
// stored and given checkpoint. The error is an *audit.Break naming the
// first event that does not match, or says which file or checkpoint fails.
//
// A daemon pruning while this runs moves events from the database to the
// archives under it; when the archived range moved during a check, the
// check runs again (up to three times).
func Verify(ctx context.Context, st *store.Store, o VerifyOptions) (Report, error) {
	for attempt := 1; ; attempt++ {
		before, err := st.AuditHead(ctx)
		if err != nil {
			return Report{}, err
		}
		r, err := verifyOnce(ctx, st, o)
		after, herr := st.AuditHead(ctx)
		if herr != nil || after.ArchivedSeq == before.ArchivedSeq || attempt == 3 {
			return r, err
		}
	}
}

func verifyOnce(ctx context.Context, st *store.Store, o VerifyOptions) (Report, error) {
	var r Report
	head, err := st.AuditHead(ctx)
	if err != nil {
		return r, err
	}
	r.ChainedUpto, r.ChainedAt = head.ChainedUpto, head.ChainedAt

	var cps []pendingCheckpoint
	err = st.Checkpoints(ctx, func(c store.Checkpoint) error {
		cp, err := OpenCheckpoint([]byte(c.Note), o.Verifier)
		if err != nil {
			return fmt.Errorf("stored checkpoint at size %d: %w", c.Size, err)
		}
		if cp.Size != c.Size || cp.Head != c.Head {
			return fmt.Errorf("stored checkpoint at size %d: its columns (size %d, head %s) differ from its signed text (size %d, head %s): the row was edited",
				c.Size, c.Size, c.Head.Short(), cp.Size, cp.Head.Short())
		}
		cps = append(cps, pendingCheckpoint{cp, "the checkpoint stored at size " + fmt.Sprint(c.Size)})
		return nil
	})
	if err != nil {
		return r, err
	}
	for i, b := range o.Checkpoints {
		cp, err := OpenCheckpoint(b, o.Verifier)
		if err != nil {
			return r, fmt.Errorf("given checkpoint %d: %w", i+1, err)
		}
		r.Given = append(r.Given, cp)
		cps = append(cps, pendingCheckpoint{cp, fmt.Sprintf("the given checkpoint %d (size %d, signed %s)", i+1, cp.Size, cp.Time.Format(time.RFC3339))})
	}
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].cp.Size < cps[j].cp.Size })

	var segs []segment
	if o.ArchiveDir != "" {
		if _, err := os.Stat(o.ArchiveDir); err == nil {
			if segs, err = segments(o.ArchiveDir, o.Verifier); err != nil {
				return r, err
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("archive directory: %w", err)
		}
	}
	covered := head.ArchivedSeq
	if len(segs) > 0 && segs[len(segs)-1].last > covered {
		covered = segs[len(segs)-1].last
	}
	// Archived events still in the live log (security-relevant ones kept
	// to their floor): each must be the archived event itself.
	var kept []audit.Entry
	if covered > 0 {
		err := st.ChainEntries(ctx, 1, covered, func(row store.ChainRow) error {
			if row.BadRow {
				return &audit.Break{Kind: audit.Inserted, Seq: row.Seq, EventID: row.Event.ID, Detail: "its sequence number or hashes are not ones the chain writes"}
			}
			if row.Seq <= covered {
				kept = append(kept, row.Entry)
			}
			return nil
		})
		if err != nil {
			return r, err
		}
	}

	w := audit.NewWalk(1, audit.Genesis)
	w.Lookup = func(h audit.Hash) (int64, bool) { return st.SeqOfHash(ctx, h) }
	ci := 0
	reach := func(seq int64, h audit.Hash) error {
		for ci < len(cps) && cps[ci].cp.Size <= seq {
			c := cps[ci]
			ci++
			if c.cp.Size < seq {
				continue // before where the check could start (unanchored)
			}
			if c.cp.Head != h {
				return &audit.Break{Kind: audit.Edited, Seq: seq, Detail: fmt.Sprintf("the chain up to seq %d hashes to %s, but %s says %s: events up to it were rewritten and rehashed",
					seq, h.Short(), c.what, c.cp.Head.Short())}
			}
			r.Checkpoints++
			cp := c.cp
			if r.Last == nil || cp.Time.After(r.Last.Time) {
				r.Last = &cp
			}
		}
		return nil
	}
	if err := reach(0, audit.Genesis); err != nil {
		return r, err
	}
	ki := 0
	switch {
	case len(segs) == 0 && head.ArchivedSeq > 0:
		r.Unanchored = head.ArchivedSeq
		w = audit.NewWalk(head.ArchivedSeq+1, head.ArchivedHash)
		w.Lookup = func(h audit.Hash) (int64, bool) { return st.SeqOfHash(ctx, h) }
		if err := reach(head.ArchivedSeq, head.ArchivedHash); err != nil {
			return r, err
		}
		for _, k := range kept {
			if audit.Link(k.Seq, k.Prev, k.Event) != k.Hash {
				return r, &audit.Break{Kind: audit.Edited, Seq: k.Seq, EventID: k.Event.ID, Detail: "its content no longer matches the hash recorded with it"}
			}
		}
		ki = len(kept)
	case len(segs) > 0 && segs[0].first != 1:
		return r, &audit.Break{Kind: audit.Deleted, Seq: 1, Detail: fmt.Sprintf("the archive segments in %s start at seq %d: the segment(s) before are missing", o.ArchiveDir, segs[0].first)}
	}
	for _, s := range segs {
		if s.first != w.Next() {
			return r, &audit.Break{Kind: audit.Deleted, Seq: w.Next(), Detail: fmt.Sprintf("no archive segment holds seq %d: the next one (%s) starts at %d", w.Next(), s.path, s.first)}
		}
		err := s.read(func(e audit.Entry) error {
			if b := w.Check(e); b != nil {
				b.Detail += " (in archive " + s.path + ")"
				return b
			}
			for ki < len(kept) && kept[ki].Seq == e.Seq {
				if kept[ki].Hash != e.Hash || audit.Link(kept[ki].Seq, kept[ki].Prev, kept[ki].Event) != e.Hash {
					return &audit.Break{Kind: audit.Edited, Seq: e.Seq, EventID: kept[ki].Event.ID, Detail: "the event kept in the live log differs from its archived copy"}
				}
				ki++
			}
			if ki < len(kept) && kept[ki].Seq < e.Seq {
				return &audit.Break{Kind: audit.Inserted, Seq: kept[ki].Seq, EventID: kept[ki].Event.ID, Detail: "it is not in the archive that holds its seq"}
			}
			r.FromArchives++
			return reach(e.Seq, e.Hash)
		})
		if err != nil {
			return r, err
		}
		if w.Next()-1 != s.last || w.Head() != s.head {
			return r, &audit.Break{Kind: audit.Deleted, Seq: w.Next(), Detail: fmt.Sprintf("archive %s ends at seq %d, but its signed note says %d", s.path, w.Next()-1, s.last)}
		}
		r.Segments++
	}
	if ki < len(kept) {
		k := kept[ki]
		return r, &audit.Break{Kind: audit.Inserted, Seq: k.Seq, EventID: k.Event.ID, Detail: "its seq is archived, but no archive holds it"}
	}
	from := w.Next()
	err = st.ChainEntries(ctx, from, 0, func(row store.ChainRow) error {
		if row.BadRow {
			return &audit.Break{Kind: audit.Inserted, Seq: row.Seq, EventID: row.Event.ID, Detail: "its sequence number or hashes are not ones the chain writes (NULL, not an integer, or the wrong size)"}
		}
		if row.Seq < from {
			return nil
		}
		if b := w.Check(row.Entry); b != nil {
			return b
		}
		r.Live++
		return reach(row.Seq, row.Hash)
	})
	if err != nil {
		return r, err
	}
	r.Events, r.Head = w.Next()-1, w.Head()
	if ci < len(cps) {
		c := cps[len(cps)-1]
		return r, &audit.Break{Kind: audit.Deleted, Seq: r.Events + 1, Detail: fmt.Sprintf("the log ends at seq %d, but %s covers %d events: events %d to %d were deleted",
			r.Events, c.what, c.cp.Size, r.Events+1, c.cp.Size)}
	}
	if head.Seq != r.Events || head.Hash != r.Head {
		return r, &audit.Break{Kind: audit.Deleted, Seq: r.Events + 1, Detail: fmt.Sprintf("the log ends at seq %d, but the chain's head row says %d (%s): events were deleted from its end, or the head row was edited",
			r.Events, head.Seq, head.Hash.Short())}
	}
	return r, nil
}
