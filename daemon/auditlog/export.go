package auditlog

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
)

// entries calls fn with the chain's events from..to (by seq, whole), read
// from the archive segments where they were pruned and from the database.
func entries(ctx context.Context, st *store.Store, dir string, v note.Verifier, from, to int64, fn func(audit.Entry) error) error {
	head, err := st.AuditHead(ctx)
	if err != nil {
		return err
	}
	next := from
	if from <= head.ArchivedSeq {
		segs, err := segments(dir, v)
		if err != nil {
			return err
		}
		for _, s := range segs {
			if s.last < next || s.first > to {
				continue
			}
			if s.first > next {
				break
			}
			err := s.read(func(e audit.Entry) error {
				if e.Seq == next && e.Seq <= to {
					next++
					return fn(e)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if next <= min(head.ArchivedSeq, to) {
			return fmt.Errorf("events from seq %d are archived, and no segment in %s holds them", next, dir)
		}
	}
	if next > to {
		return nil
	}
	return st.ChainEntries(ctx, next, to, func(r store.ChainRow) error {
		if r.BadRow || r.Seq < next {
			return nil
		}
		return fn(r.Entry)
	})
}

// Export writes a bundle for an auditor: a tar holding the events recorded
// from..to (whole chain runs: every event between the first and the last of
// the range, extended to end at a signed checkpoint when one follows) as a
// signed segment, the checkpoint that covers its end, the verifier key, and
// a README. VerifyBundle checks one.
func Export(ctx context.Context, st *store.Store, signer *Signer, archiveDir string, from, to time.Time, out io.Writer) (first, last int64, err error) {
	first, last, err = st.SeqRange(ctx, from, to)
	if err != nil {
		return 0, 0, err
	}
	// Events of the range that were pruned are in the archive segments.
	if segs, err := segments(archiveDir, signer.Verifier()); err == nil {
		for _, sg := range segs {
			err := sg.read(func(e audit.Entry) error {
				if !e.Event.Time.Before(from) && e.Event.Time.Before(to) {
					if last < first {
						first, last = e.Seq, e.Seq
					}
					first, last = min(first, e.Seq), max(last, e.Seq)
				}
				return nil
			})
			if err != nil {
				return 0, 0, err
			}
		}
	}
	if last < first {
		return 0, 0, fmt.Errorf("no activity recorded from %s to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	var cp *store.Checkpoint
	err = st.Checkpoints(ctx, func(c store.Checkpoint) error {
		if cp == nil && c.Size >= last {
			cp = &c
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	if cp != nil {
		last = cp.Size
	}
	var list []audit.Entry
	if err := entries(ctx, st, archiveDir, signer.Verifier(), first, last, func(e audit.Entry) error {
		list = append(list, e)
		return nil
	}); err != nil {
		return 0, 0, err
	}
	if int64(len(list)) != last-first+1 {
		return 0, 0, fmt.Errorf("export: found %d of the events %d to %d: run keyward audit verify", len(list), first, last)
	}
	tmp, err := os.MkdirTemp("", "keyward-export-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(tmp)
	name, err := WriteSegment(tmp, signer, list)
	if err != nil {
		return 0, 0, err
	}
	tw := tar.NewWriter(out)
	add := func(n string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: time.Now()}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for _, n := range []string{name, name + ".note"} {
		b, err := os.ReadFile(filepath.Join(tmp, n))
		if err != nil {
			return 0, 0, err
		}
		if err := add(n, b); err != nil {
			return 0, 0, err
		}
	}
	if cp != nil {
		if err := add("checkpoint.note", []byte(cp.Note)); err != nil {
			return 0, 0, err
		}
	}
	readme := fmt.Sprintf(`keyward activity log export: events seq %d to %d (recorded %s to %s).
%s holds them, one JSON object a line; %s.note signs its first and last hashes and its digest.
checkpoint.note (when present) is the daemon's signed checkpoint at seq %d: the chain in the
segment ends exactly on it. verifier.key checks both signatures; compare it with the copy you
were given before, not only with this one. Check with: keyward audit verify --bundle FILE --key KEYFILE
`, first, last, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), name, name, last)
	if err := add("verifier.key", []byte(signer.VerifierKey+"\n")); err != nil {
		return 0, 0, err
	}
	if err := add("README.txt", []byte(readme)); err != nil {
		return 0, 0, err
	}
	return first, last, tw.Close()
}

// BundleReport is what VerifyBundle checked.
type BundleReport struct {
	First, Last int64
	Checkpoint  *audit.Checkpoint // the checkpoint the segment ends on (nil: none in the bundle)
}

// VerifyBundle checks an export: the segment's signature and digest, the
// chain inside it, and that it ends on the bundle's signed checkpoint.
func VerifyBundle(r io.Reader, v note.Verifier) (BundleReport, error) {
	var rep BundleReport
	tmp, err := os.MkdirTemp("", "keyward-bundle-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(r)
	var cpNote []byte
	// Export writes verifier.key and README.txt last, always: a bundle
	// without them was cut short (a tar cut at an entry's end reads as a
	// shorter whole, and could have lost its checkpoint).
	last := map[string]bool{"verifier.key": false, "README.txt": false}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return rep, fmt.Errorf("bundle: %w", err)
		}
		base := filepath.Base(h.Name)
		if base != h.Name || h.Typeflag != tar.TypeReg || h.Size > 1<<32 {
			return rep, fmt.Errorf("bundle: unexpected entry %q", h.Name)
		}
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, io.LimitReader(tr, h.Size)); err != nil {
			return rep, fmt.Errorf("bundle: %w", err)
		}
		if _, ok := last[base]; ok {
			last[base] = true
		}
		switch {
		case base == "checkpoint.note":
			cpNote = buf.Bytes()
		case strings.HasPrefix(base, "events-"):
			if err := os.WriteFile(filepath.Join(tmp, base), buf.Bytes(), 0o600); err != nil {
				return rep, err
			}
		}
	}
	for _, n := range []string{"verifier.key", "README.txt"} {
		if !last[n] {
			return rep, fmt.Errorf("bundle: it ends before its %s (export writes it last): the file is truncated or not a keyward export; copy or export it again", n)
		}
	}
	segs, err := segments(tmp, v)
	if err != nil {
		return rep, err
	}
	if len(segs) != 1 {
		return rep, fmt.Errorf("bundle: want one signed segment, found %d", len(segs))
	}
	s := segs[0]
	w := audit.NewWalk(s.first, s.prev)
	if err := s.read(func(e audit.Entry) error {
		if b := w.Check(e); b != nil {
			return b
		}
		return nil
	}); err != nil {
		return rep, err
	}
	if w.Next()-1 != s.last || w.Head() != s.head {
		return rep, fmt.Errorf("bundle: the segment ends at seq %d, its signed note says %d", w.Next()-1, s.last)
	}
	rep.First, rep.Last = s.first, s.last
	if cpNote != nil {
		cp, err := OpenCheckpoint(cpNote, v)
		if err != nil {
			return rep, fmt.Errorf("bundle: %w", err)
		}
		if cp.Size != s.last || cp.Head != s.head {
			return rep, &audit.Break{Kind: audit.Edited, Seq: s.last, Detail: fmt.Sprintf("the bundle's checkpoint (size %d, head %s) is not where its events end (seq %d, %s)",
				cp.Size, cp.Head.Short(), s.last, s.head.Short())}
		}
		rep.Checkpoint = &cp
	}
	return rep, nil
}
