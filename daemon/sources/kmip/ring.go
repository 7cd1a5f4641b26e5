package kmip

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// UsageReader reads the proxy's recorded use of ring generations
// (store.Store implements it).
type UsageReader interface {
	KeyUse(ctx context.Context, app string, keyIDs []string, since time.Time) (map[string]engine.KeyUse, error)
}

// RetireWindow is how far back the use of a generation that leaves (or
// will leave) a full ring is looked at.
const RetireWindow = 7 * 24 * time.Hour

const retireWindowText = "7 days"

// updateRing makes app's ring reflect one poll. The new ring's wrapped copy
// is stored before the ring changes, so a generation never encrypts before
// a restart with the KMS down could open what it sealed. When the copy
// cannot be stored, the generations this poll would add wait outside the
// ring (their material is zeroed and fetched again next poll), the previous
// encryptor keeps encrypting, and the source is degraded saying so; what
// only removes or demotes generations (a compromise, a deactivation) still
// applies at once.
func (s *Source) updateRing(ctx context.Context, app string, cands []keyring.Candidate, pl *pollState) error {
	before, _ := s.deps.Rings.Ring(app)
	bare := make([]keyring.Candidate, len(cands))
	for i, c := range cands {
		c.Material = nil
		bare[i] = c
	}
	ch, err := s.deps.Rings.Prepare(app, cands)
	if err != nil {
		return err
	}
	if ch.Diff.Changed() {
		if perr := s.storeRing(ctx, app, ch); perr != nil {
			s.log.Error("cannot store the wrapped ring; its new generations wait", "app", app, "err", perr)
			waiting := names(ch.Diff.Added)
			if len(waiting) > 0 {
				ch.Discard()
				if ch, err = s.deps.Rings.Prepare(app, bare); err != nil {
					return err
				}
				if ch.Diff.Changed() {
					if err := s.storeRing(ctx, app, ch); err != nil {
						s.log.Error("cannot store the wrapped ring", "app", app, "err", err)
					}
				}
			}
			msg := fmt.Sprintf("the %s ring could not be stored wrapped in the database (%v)", app, perr)
			if len(waiting) > 0 {
				enc := "nothing"
				if e := encrypting(before); e != nil {
					enc = e.Name
				}
				msg += fmt.Sprintf(": %s wait outside the ring and %s keeps encrypting until it can", strings.Join(waiting, ", "), enc)
			}
			pl.st.Warnings = append(pl.st.Warnings, msg)
		}
	}
	if err := s.deps.Rings.Commit(ch); err != nil {
		return err
	}
	s.ringEvents(ctx, app, before, ch.Diff, pl)
	s.noteNextOut(ctx, app, pl)
	return nil
}

func names(gens []keyring.Generation) []string {
	out := make([]string, len(gens))
	for i, g := range gens {
		out[i] = g.Name
	}
	return out
}

func encrypting(r keyring.Ring) *keyring.Generation {
	for _, g := range r.Gens {
		if g.Encrypts {
			return &g
		}
	}
	return nil
}

// ringEvents records what one ring update changed: generations that left
// (a pushed-out one with the use it still had), candidates left out, and
// every move of the encrypting generation as its own event.
func (s *Source) ringEvents(ctx context.Context, app string, before keyring.Ring, d keyring.Diff, pl *pollState) {
	pl.st.Added += len(d.Added)
	for _, g := range d.Added {
		pl.addedNow[g.UID] = true
	}
	pl.st.Dropped += len(d.Dropped)
	var out []string
	for _, g := range d.Dropped {
		if g.Reason == keyring.DropPushedOut {
			out = append(out, g.ShortID)
		}
	}
	use, uerr := s.recentUse(ctx, app, out)
	for _, g := range d.Dropped {
		sev, why := engine.SeverityWarn, ""
		switch g.Reason {
		case keyring.DropPushedOut:
			why = fmt.Sprintf("pushed out of the full ring (%d generations) by newer ones: tokens made with it (key id %s) no longer decrypt; %s",
				before.Capacity, g.ShortID, useText(use, uerr, g.ShortID))
		case keyring.DropLeftOut:
			why = "now left out by the ring's ordering rule (see the refusal event)"
		case keyring.DropNotEligible:
			why = "no longer usable (state " + string(g.State) + ")"
		case keyring.DropCompromised:
			sev, why = engine.SeverityAlert, "compromised in the KMS"
		case keyring.DropDestroyed:
			sev, why = engine.SeverityAlert, "destroyed in the KMS"
		default:
			sev, why = engine.SeverityAlert, "no longer in the KMS"
		}
		pl.event(g.UID, engine.OpDropped, sev, fmt.Sprintf("dropped from the %s ring: %s; material zeroed", app, why))
	}
	for _, r := range d.Rejected {
		why := fmt.Sprintf("not used in the %s ring: %s", app, r.Reason)
		pl.refuse(r.UID, engine.SeverityWarn, why, why)
	}
	for _, l := range d.LeftOut {
		pl.refuse(l.UID, engine.SeverityWarn, fmt.Sprintf("left out of the %s ring (%s): %s", app, l.Reason, l.Detail), "left out: "+l.Reason)
	}
	// A generation that arrives numbered below the one that encrypts (a
	// number going backwards) only ever decrypts: say so, once.
	if e := encrypting(before); e != nil {
		for _, g := range d.Added {
			if g.State.CanEncrypt() && keyring.Newer(d.Rule, *e, g) {
				pl.event(g.UID, engine.OpRingWarning, engine.SeverityWarn, fmt.Sprintf(
					"joined the %s ring ranked below %s, which encrypts (its generation number goes backwards): it decrypts but does not encrypt", app, e.Name))
			}
		}
	}
	if !d.EncryptorChanged {
		return
	}
	e := d.Encryptor
	from := "nothing"
	if e.From != nil {
		from = fmt.Sprintf("%s (key id %s)", e.From.Name, e.From.ShortID)
	}
	if e.To == nil {
		uid := ""
		if e.From != nil {
			uid = e.From.UID
		}
		pl.event(uid, engine.OpDropped, engine.SeverityAlert, fmt.Sprintf(
			"no Active key left for %s: the proxy cannot encrypt for it (encrypted with %s: %s)", app, from, e.Why))
		return
	}
	sev := engine.SeverityWarn
	if e.Routine {
		sev = engine.SeverityInfo
	}
	ring, _ := s.deps.Rings.Ring(app)
	pl.event(e.To.UID, engine.OpRotated, sev, fmt.Sprintf("%s (key id %s) now encrypts for %s, was %s: %s (%s in the ring)",
		e.To.Name, e.To.ShortID, app, from, e.Why, engine.Plural(len(ring.Gens), "generation")))
}

// recentUse reads the use of app's generations ids in the retire window.
func (s *Source) recentUse(ctx context.Context, app string, ids []string) (map[string]engine.KeyUse, error) {
	if len(ids) == 0 || s.deps.Usage == nil {
		return nil, nil
	}
	return s.deps.Usage.KeyUse(ctx, app, ids, s.deps.Now().Add(-RetireWindow))
}

func useText(use map[string]engine.KeyUse, err error, id string) string {
	if err != nil {
		return "its recent use could not be read: " + err.Error()
	}
	u := use[id]
	if u.Decrypts == 0 {
		return "it decrypted nothing in the last " + retireWindowText
	}
	return fmt.Sprintf("it still decrypted %s in the last %s, the latest in the hour from %s",
		engine.Plural(int(u.Decrypts), "token"), retireWindowText, u.LastDecrypt.UTC().Format("2006-01-02 15:04 UTC"))
}

// noteNextOut remembers, for the socket API and the Sources pane, which
// generation the next rotation pushes out of app's full ring and how much
// it was still used. When a generation that still decrypts tokens becomes
// the next to leave, a warning says so before it does, once.
func (s *Source) noteNextOut(ctx context.Context, app string, pl *pollState) {
	r, _ := s.deps.Rings.Ring(app)
	var no *NextOut
	if g := r.NextOut(); g != nil {
		no = &NextOut{Name: g.Name, KeyID: g.ShortID, Window: "7d"}
		use, err := s.recentUse(ctx, app, []string{g.ShortID})
		switch {
		case err != nil || s.deps.Usage == nil:
			no.Unknown = true
		default:
			u := use[g.ShortID]
			no.Decrypts = u.Decrypts
			if !u.LastDecrypt.IsZero() {
				t := u.LastDecrypt
				no.LastDecrypt = &t
			}
		}
	}
	s.lastMu.Lock()
	prev, had := s.nextOut[app]
	if no == nil {
		delete(s.nextOut, app)
	} else {
		s.nextOut[app] = *no
	}
	s.lastMu.Unlock()
	if no != nil && no.Decrypts > 0 && (!had || prev.Name != no.Name || prev.Decrypts == 0) {
		when := ""
		if no.LastDecrypt != nil {
			when = ", the latest in the hour from " + no.LastDecrypt.UTC().Format("2006-01-02 15:04 UTC")
		}
		pl.event(r.NextOut().UID, engine.OpRingWarning, engine.SeverityWarn, fmt.Sprintf(
			"leaves the full %s ring at the next rotation (key id %s) and still decrypted %d token(s) in the last %s%s: "+
				"tokens made with it stop decrypting then; move them first with keyward rewrap --app %s",
			app, no.KeyID, no.Decrypts, retireWindowText, when, app))
	}
}

func (s *Source) nextOutOf(app, name string) *NextOut {
	s.lastMu.Lock()
	defer s.lastMu.Unlock()
	if no, ok := s.nextOut[app]; ok && no.Name == name {
		return &no
	}
	return nil
}
