package auditlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/keyward/keyward/engine/audit"
	"github.com/keyward/keyward/store"
)

// Origin is the first line of every checkpoint keyward signs.
const Origin = "keyward audit chain v1"

// Verified is the last checkpoint the daemon checked the chain up to and
// signed.
type Verified struct {
	Size       int64
	Head       audit.Hash
	Time       time.Time // the checkpoint's time
	VerifiedAt time.Time
	// Err is why the latest attempt failed ("" when it did not): the chain
	// no longer matches, and no checkpoint is signed over it.
	Err string
}

// Checkpointer signs the chain's head periodically, after checking the
// events added since the last checkpoint, and writes the signed note to the
// store, and optionally to a file and to syslog (copies off the box).
type Checkpointer struct {
	st     *store.Store
	signer *Signer
	now    func() time.Time
	log    *slog.Logger
	File   string // append every checkpoint here ("" : no)
	Syslog bool
	// Mu, when set, is held while a checkpoint is checked and signed; the
	// daemon shares it with the Archiver, so pruning never removes events
	// the check is reading.
	Mu *sync.Mutex
	// dialSyslog opens the syslog connection (tests: a socket of their own).
	dialSyslog func() (*syslog.Writer, error)

	mu       sync.Mutex
	verified Verified
	sysw     *syslog.Writer
}

// NewCheckpointer signs st's chain with signer.
func NewCheckpointer(st *store.Store, signer *Signer, now func() time.Time, log *slog.Logger) *Checkpointer {
	return &Checkpointer{st: st, signer: signer, now: now, log: log,
		dialSyslog: func() (*syslog.Writer, error) { return syslog.New(syslog.LOG_NOTICE|syslog.LOG_AUTH, "keyward-audit") }}
}

// Last is the last verified checkpoint (zero VerifiedAt and empty Err:
// none yet, or no checkpointer).
func (c *Checkpointer) Last() Verified {
	if c == nil {
		return Verified{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verified
}

// Run signs a checkpoint now and every interval until ctx ends, then once
// more (the events of the last minutes before a clean stop are covered).
func (c *Checkpointer) Run(ctx context.Context, interval time.Duration) {
	c.tick(ctx)
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
	loop:
		for {
			select {
			case <-ctx.Done():
				break loop
			case <-t.C:
				c.tick(ctx)
			}
		}
	}
	c.tick(context.WithoutCancel(ctx))
	if c.sysw != nil {
		c.sysw.Close()
	}
}

func (c *Checkpointer) tick(ctx context.Context) {
	if _, err := c.Checkpoint(ctx); err != nil {
		c.log.Error("audit checkpoint not signed", "err", err)
	}
}

// Checkpoint checks the events since the last stored checkpoint and, when
// the head moved, signs and stores a new one. A chain that does not match
// is never signed: the error names the first event that does not.
func (c *Checkpointer) Checkpoint(ctx context.Context) (store.Checkpoint, error) {
	cp, err := c.checkpoint(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.verified.Err = err.Error()
		return cp, err
	}
	c.verified = Verified{Size: cp.Size, Head: cp.Head, Time: cp.Time, VerifiedAt: c.now().UTC()}
	return cp, nil
}

func (c *Checkpointer) checkpoint(ctx context.Context) (store.Checkpoint, error) {
	if c.Mu != nil {
		c.Mu.Lock()
		defer c.Mu.Unlock()
	}
	last, ok, err := c.st.LatestCheckpoint(ctx)
	if err != nil {
		return last, err
	}
	head, err := c.st.AuditHead(ctx)
	if err != nil {
		return last, err
	}
	from, prev := int64(1), audit.Genesis
	if ok {
		if _, err := OpenCheckpoint([]byte(last.Note), c.signer.Verifier()); err != nil {
			return last, fmt.Errorf("the last stored checkpoint (size %d): %w", last.Size, err)
		}
		from, prev = last.Size+1, last.Head
	}
	if head.ArchivedSeq >= from {
		from, prev = head.ArchivedSeq+1, head.ArchivedHash
	}
	w := audit.NewWalk(from, prev)
	w.Lookup = func(h audit.Hash) (int64, bool) { return c.st.SeqOfHash(ctx, h) }
	if err := walkLive(ctx, c.st, w, from, head.Seq); err != nil {
		return last, err
	}
	if w.Next()-1 != head.Seq || w.Head() != head.Hash {
		return last, fmt.Errorf("the chain's head row says seq %d (%s) but the log ends at seq %d (%s): events were deleted from its end or the head row was edited",
			head.Seq, head.Hash.Short(), w.Next()-1, w.Head().Short())
	}
	if ok && head.Seq == last.Size {
		return last, nil
	}
	cp := audit.Checkpoint{Origin: Origin, Size: head.Seq, Head: head.Hash, Time: c.now().UTC()}
	signed, err := note.Sign(&note.Note{Text: cp.Text()}, c.signer.signer)
	if err != nil {
		return last, fmt.Errorf("sign audit checkpoint: %w", err)
	}
	out := store.Checkpoint{Size: cp.Size, Head: cp.Head, Time: cp.Time, Note: string(signed)}
	if err := c.st.AddCheckpoint(ctx, out); err != nil {
		return last, err
	}
	c.offBox(signed, cp)
	return out, nil
}

// walkLive checks the stored events from..to with w.
func walkLive(ctx context.Context, st *store.Store, w *audit.Walk, from, to int64) error {
	var brk *audit.Break
	err := st.ChainEntries(ctx, from, to, func(r store.ChainRow) error {
		if r.BadRow {
			brk = &audit.Break{Kind: audit.Inserted, Seq: r.Seq, EventID: r.Event.ID,
				Detail: "its sequence number or hashes are not ones the chain writes (NULL, not an integer, or the wrong size)"}
		} else if r.Seq < from {
			return nil // an archived event kept in the live log: checked against its archive
		} else {
			brk = w.Check(r.Entry)
		}
		if brk != nil {
			return brk
		}
		return nil
	})
	return err
}

func (c *Checkpointer) offBox(signed []byte, cp audit.Checkpoint) {
	if c.File != "" {
		f, err := os.OpenFile(c.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.Write(signed)
			if err == nil {
				err = f.Sync()
			}
			f.Close()
		}
		if err != nil {
			c.log.Warn("audit checkpoint not copied to audit.checkpoint_file", "file", c.File, "err", err)
		}
	}
	if c.Syslog {
		if c.sysw == nil {
			w, err := c.dialSyslog()
			if err != nil {
				c.log.Warn("audit checkpoint not sent to syslog", "err", err)
				return
			}
			c.sysw = w
		}
		sig := bytes.TrimPrefix(signed, []byte(cp.Text()+"\n"))
		line := fmt.Sprintf("checkpoint size=%d head=%s time=%s sig=%q", cp.Size, base64.StdEncoding.EncodeToString(cp.Head[:]),
			cp.Time.Format(time.RFC3339Nano), strings.TrimSpace(string(sig)))
		if err := c.sysw.Notice(line); err != nil {
			c.log.Warn("audit checkpoint not sent to syslog", "err", err)
		}
	}
}

// OpenCheckpoint checks a signed checkpoint note's signature with v and
// parses its text.
func OpenCheckpoint(msg []byte, v note.Verifier) (audit.Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("checkpoint signature: %w", err)
	}
	cp, err := audit.ParseCheckpoint(n.Text)
	if err != nil {
		return cp, err
	}
	if cp.Origin != Origin {
		return cp, fmt.Errorf("%w: origin %q is not %q", audit.ErrCheckpoint, cp.Origin, Origin)
	}
	return cp, nil
}

// SplitNotes cuts a checkpoint file (audit.checkpoint_file: signed notes
// one after another) into its notes. Each keyward checkpoint's text is four
// lines, then a blank line, then signature lines starting with "— ".
func SplitNotes(b []byte) ([][]byte, error) {
	var out [][]byte
	lines := bytes.SplitAfter(b, []byte("\n"))
	i := 0
	for i < len(lines) {
		if len(bytes.TrimSpace(lines[i])) == 0 {
			i++
			continue
		}
		if i+5 > len(lines) || string(lines[i+4]) != "\n" {
			return out, fmt.Errorf("%w: the note starting at line %d is not 4 lines of text, a blank line and signatures", audit.ErrCheckpoint, i+1)
		}
		start := i
		i += 5
		n := 0
		for i < len(lines) && bytes.HasPrefix(lines[i], []byte("— ")) {
			i++
			n++
		}
		if n == 0 {
			return out, fmt.Errorf("%w: the note starting at line %d has no signature", audit.ErrCheckpoint, start+1)
		}
		out = append(out, bytes.Join(lines[start:i], nil))
	}
	return out, nil
}
