package kmip

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// PollStats says what one poll cost and found. The socket API serves the
// latest as a KMIP source's "poll" (api.KMIPPoll, the same fields).
type PollStats struct {
	Started  time.Time
	Duration time.Duration
	// Requests is the number of KMIP request messages sent (each may carry
	// a batch of operations); the others count operations.
	Requests int
	Locates  int
	// Relocates are the Locates (counted in Locates too) a poll sent
	// again because its reads showed an application's encrypting
	// generation leave with nothing newer located (a rotation between
	// the Locate and the reads).
	Relocates int
	AttrReads int
	Gets      int
	Located   int
	Matched   int
	// Mismatched counts located objects whose Name did not match the
	// pattern they were located by (ignored).
	Mismatched int
	// Rechecked counts known keys the Locate did not return, read by their
	// identifier before being taken for destroyed; Recovered those found.
	Rechecked int
	Recovered int
	Added     int
	Dropped   int
	// LeftOut are generations a ring should hold but could not take, each
	// as "name: why" (the KMS refused the Get, the material changed, ...).
	LeftOut []string
	// Warnings are what else the poll could not settle (known keys the
	// Locate missed, reads that failed); like LeftOut they make the source
	// degraded although it polled.
	Warnings []string
	// Full is set on a poll that read every located object's Name and
	// State (the first, then one every full_refresh); the others read only
	// new objects and those whose state moved.
	Full bool
	// Wildcards says where names were matched: "server" (one Locate per
	// application), "client" (every key listed, names matched by keyward)
	// or "probing" (the poll that learned which).
	Wildcards string
	// FailedAddresses are the addresses tried before Address answered,
	// each as "host:port: why" (a failover hides nothing: the source is
	// degraded while its first choice does not answer).
	FailedAddresses []string
	// Protocol is the KMIP version spoken, Address the KMS that answered.
	Protocol string
	Address  string
	Err      string
}

// knownKey is what the source remembers of one KMS object between polls.
type knownKey struct {
	uid, id string
	state   engine.State
	fp      string
	row     engine.Key // last row written, Updated zeroed
	// refusal is why the ring could not take this key at the last try
	// (its event is recorded once, not at every poll).
	refusal string
}

// meta is what the inventory row says of the key, with the names and state
// just read: a known key whose other attributes were not re-read keeps
// them as they were.
func (k *knownKey) meta(names []string, state kmip.State) *objectMeta {
	return &objectMeta{uid: k.uid, names: names, state: state, objType: kmip.ObjectTypeSymmetricKey,
		algText: k.row.Algorithm, length: int32(k.row.Length), initial: k.row.Created, activation: k.row.Activated,
		deactivate: k.row.Deactivated, destroy: k.row.Destroyed}
}

// Poll runs one poll now (after the one in progress, if any) and reports
// health through the source's run loop.
func (s *Source) Poll(ctx context.Context, sink sources.Sink) error {
	return s.loop.Once(ctx, sink, func(ctx context.Context, full bool) (sources.Outcome, error) {
		return s.pollOnce(ctx, sink, full)
	})
}

// pollOnce is one poll: its statistics, the reason a failed poll gives
// (explained for an administrator), the memory of the KMS, and what a poll
// that worked could not do.
func (s *Source) pollOnce(ctx context.Context, sink sources.Sink, full bool) (sources.Outcome, error) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.pollStarted()
	defer s.pollEnded()
	st := PollStats{Started: s.deps.Now()}
	err := s.safePoll(ctx, sink, &st, full)
	st.Duration = s.deps.Now().Sub(st.Started)
	if err != nil {
		if ctx.Err() != nil {
			return sources.Outcome{}, ctx.Err()
		}
		reason := err.Error()
		var ce *connectError
		if !errors.As(err, &ce) {
			reason = explain(err, s.leaf, s.cfg.ServerName, s.connected)
			if s.connected != "" {
				reason = s.connected + ": " + reason
			}
		}
		st.Err = reason
		s.setLast(st)
		s.closeClient() // reconnect, trying addresses in order, next time
		return sources.Outcome{}, errors.New(reason)
	}
	s.setLast(st)
	s.remember(ctx, sink)
	var problems []string
	if s.kekPending {
		if err := s.adoptKEK(ctx); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if n := len(st.LeftOut); n > 0 {
		problems = append(problems, fmt.Sprintf("the rings lack %s the KMS holds: %s", engine.Plural(n, "generation"), grouped(st.LeftOut, s.leaf)))
	}
	// The poll itself worked, so the source keeps its interval; what it
	// could not do makes the source degraded until it can.
	return sources.Outcome{Problems: append(problems, st.Warnings...)}, nil
}

// adoptKEK fetches the key-encryption key named kek_name, which the KMS
// could not give at start, and persists the rings under it. A KEK that does
// not open the wrapped rings already in the database is not adopted: the
// error says so, nothing is written, and the next poll tries again.
func (s *Source) adoptKEK(ctx context.Context) error {
	k, err := s.fetchKEK(ctx)
	if err != nil {
		s.log.Warn("cannot fetch the key-encryption key from the KMS; ring material is not persisted", "kek_name", s.cfg.KEKName, "err", err)
		return fmt.Errorf("ring material is not persisted: %w", err)
	}
	plains, err := s.openSealed(ctx, k)
	for _, p := range plains {
		clear(p)
	}
	if err != nil {
		s.log.Error("the key-encryption key from the KMS does not open the wrapped rings; nothing persisted", "err", err)
		return err
	}
	s.kek, s.kekPending = k, false
	for _, a := range s.cfg.Applications {
		// A ring still empty keeps its wrapped copy (persist would delete
		// it): it is the material a restart without the KMS restores.
		if r, ok := s.deps.Rings.Ring(a.Name); !ok || len(r.Gens) == 0 {
			continue
		}
		if err := s.persist(ctx, a.Name); err != nil {
			s.log.Error("cannot persist the wrapped ring", "app", a.Name, "err", err)
		}
	}
	return nil
}

// safePoll turns a panic inside the KMIP client into a failed poll
// (answerPanic).
func (s *Source) safePoll(ctx context.Context, sink sources.Sink, st *PollStats, full bool) (err error) {
	defer s.answerPanic(&err)
	return s.poll(ctx, sink, st, full)
}

// answerPanic, deferred, turns a panic inside the KMIP client, or in the
// reading of a KMS answer, into *err: ovh/kmip-go v0.8.1 can send on a
// channel its reader just closed when the KMS drops the connection
// mid-request (a data race upstream), and its typed requests assert the
// answer's payload type unchecked (a KMS answering a Create with another
// operation's payload, or none, panics there). That must fail the request,
// not stop the daemon. The caller holds pollMu.
func (s *Source) answerPanic(err *error) {
	if r := recover(); r != nil {
		s.closeClient() // its state is unknown: the next request reconnects
		*err = &answerError{kms: s.answerer(), what: fmt.Sprintf("broke the request: its connection dropped mid-request or its answer could not be read (%v)", r)}
	}
}

func (s *Source) loadKnown(ctx context.Context, sink sources.Sink) error {
	if s.loaded {
		return nil
	}
	rows, err := sink.Known(ctx, s.cfg.Name)
	if err != nil {
		return fmt.Errorf("read the inventory of %s: %w", s.cfg.Name, err)
	}
	for _, r := range rows {
		uid := r.Tags["kmip_uid"]
		if uid == "" {
			continue
		}
		r.Updated, r.Aging = time.Time{}, nil
		s.known[uid] = &knownKey{uid: uid, id: r.ID, state: r.State, fp: r.Fingerprint, row: r}
	}
	if err := s.recall(ctx, sink); err != nil {
		return fmt.Errorf("read what was learned of %s: %w", s.cfg.Name, err)
	}
	s.loaded = true
	return nil
}

// pollState is one poll in progress: what each phase found, for the
// phases after it. A poll is its phases in order (see poll); each reads
// the fields the earlier ones filled and fills its own.
type pollState struct {
	s    *Source
	ctx  context.Context
	c    *kmipclient.Client
	sink sources.Sink
	st   *PollStats
	apps []config.Application
	// now is the time of the poll's events and rows, read when the KMS
	// has answered what it holds (candidates).
	now time.Time
	// full is set when this poll reads every Name and State again (the
	// first, then one every full_refresh: the run loop's cadence).
	full bool

	// locate: the located objects, sorted, and per application where the
	// KMS expands wildcards (nil otherwise).
	uids   []string
	perApp [][]string
	// recheck: known keys missing from the Locate that the KMS still
	// holds (or could not say it does not), read in full.
	recovered map[string]*objectMeta
	// attributes: what is known of every located object this poll.
	metas map[string]*objectMeta
	// match: the located objects that belong to an application.
	matched map[string]appMatch
	// mismatched is what match last added to st.Mismatched.
	mismatched int
	// candidates: per application, and the identifiers a ring wants the
	// material of.
	cands  [][]keyring.Candidate
	wanted []string
	// fetch: the material got for wanted keys (zeroed when the poll
	// ends), and the keys a ring could not take this poll.
	material map[string][]byte
	refused  map[string]bool
	// events are the activity events the poll records with its batch.
	events []engine.Event
	// addedNow are the generations this poll's ring changes added (their
	// events are the ring's); a ring generation the inventory does not
	// know and this poll did not add joined in a change never recorded.
	addedNow map[string]bool
	// relocateErr is why settle's Locate failed: the poll keeps what it
	// read, but the rings keep their encryptors (see settle).
	relocateErr error
}

// poll is one poll of the KMS, in phases: locate the objects, re-check
// the known keys the Locate missed, read attributes, match names to
// applications (and learn whether the KMS expands wildcards), choose the
// candidates and fetch the material a ring needs, update the rings, and
// record the inventory rows and events.
func (s *Source) poll(ctx context.Context, sink sources.Sink, st *PollStats, full bool) error {
	if err := s.loadKnown(ctx, sink); err != nil {
		return err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	p := &pollState{s: s, ctx: ctx, c: c, sink: sink, st: st, apps: s.cfg.Applications, full: full,
		refused: map[string]bool{}, material: map[string][]byte{}, addedNow: map[string]bool{}}
	defer p.dropMaterial()
	st.Protocol, st.Address = c.Version().String(), s.connected
	if len(s.failedFirst) > 0 {
		st.FailedAddresses = slices.Clone(s.failedFirst)
		st.Warnings = append(st.Warnings, fmt.Sprintf("failover: %s answered after %s", s.connected, strings.Join(s.failedFirst, "; ")))
	}
	for _, phase := range []func() error{p.locate, p.recheck, p.attributes, p.match, p.probeWildcards,
		p.candidates, p.settle, p.fetch} {
		if err := phase(); err != nil {
			return err
		}
	}
	// The KMS has answered all it will this poll. A stop now ends the poll
	// before anything changes; once the rings start changing, the rings
	// and the batch that records their change are written whole, even if
	// the daemon stops meanwhile (a local write, bounded by localBudget):
	// never a ring moved with no record of it.
	if err := ctx.Err(); err != nil {
		return err
	}
	// The budget starts with the stop: without one, a slow write (a
	// loaded disk, SQLite waiting on another writer) is not cut between
	// the ring's change and its record.
	local, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(localBudget, cancel) })()
	p.ctx = local
	for _, phase := range []func() error{p.updateRings, p.record} {
		if err := phase(); err != nil {
			return err
		}
	}
	if ke := (*kmipError)(nil); p.relocateErr != nil && !errors.As(p.relocateErr, &ke) {
		s.closeClient() // the connection broke: the next poll dials again
	}
	return nil
}

// localBudget bounds what a poll writes after the KMS answered (the
// wrapped rings, the inventory batch) once a stop arrives, from the stop:
// less than the daemon's stop budget. Without a stop it is not bounded.
const localBudget = 3 * time.Second

// locate is phase 1. A server known to expand wildcards gets one Locate
// per application (batched). Otherwise every symmetric key is listed once
// and names are matched here; while the server's behaviour is not known
// yet, one probe after the listing learns it (probeWildcards).
func (p *pollState) locate() error {
	p.st.Full = p.full
	uids, perApp, err := p.located(nil)
	if err != nil {
		return err
	}
	p.uids, p.perApp = uids, perApp
	p.st.Located = len(p.uids)
	return nil
}

// located asks the KMS what it holds now: every located object, sorted,
// and per application where the KMS expands wildcards (nil otherwise).
// Where it does, only the applications in only are asked for (nil: all of
// them); the others' lists are empty.
func (p *pollState) located(only []int) (uids []string, perApp [][]string, err error) {
	s := p.s
	if s.wildcards > 0 {
		asked := only
		if asked == nil {
			asked = make([]int, len(p.apps))
			for i := range p.apps {
				asked[i] = i
			}
		}
		pats := make([]string, len(asked))
		for j, i := range asked {
			pats[j] = p.apps[i].Pattern
		}
		answers, err := s.locate(p.ctx, p.c, byName(pats...), p.st)
		if err != nil {
			return nil, nil, err
		}
		perApp = make([][]string, len(p.apps))
		for j, i := range asked {
			perApp[i] = answers[j]
			uids = append(uids, answers[j]...)
		}
		if len(uids) == 0 && only == nil && s.cfg.Locate == "auto" && s.holdsLiveKeys() {
			// Every pattern came back empty while keys are known: perhaps
			// a failover KMS that does not expand wildcards. List and learn
			// again rather than take every key for destroyed.
			s.log.Warn("the KMS located nothing for any application's pattern; listing every key to check")
			s.wildcards, perApp = 0, nil
		}
	}
	if s.wildcards <= 0 {
		all, err := s.locate(p.ctx, p.c, byName(""), p.st)
		if err != nil {
			return nil, nil, err
		}
		uids = all[0]
	}
	slices.Sort(uids)
	return slices.Compact(uids), perApp, nil
}

// recheck reads a known key missing from the Locate by its identifier
// before it is taken for destroyed: a Locate can miss objects (a page
// shifted by a deletion between two pages, a limit of the server's own),
// and one read settles it. Those the KMS still holds rejoin the poll.
func (p *pollState) recheck() error {
	s := p.s
	var vanished []string
	for uid, k := range s.known {
		if _, located := slices.BinarySearch(p.uids, uid); !located && k.row.ID != "" && k.state != engine.StateDestroyed {
			vanished = append(vanished, uid)
		}
	}
	slices.Sort(vanished)
	recovered, rfailed, err := s.attributes(p.ctx, p.c, vanished, attrNames, p.st)
	if err != nil {
		return err
	}
	p.st.Rechecked, p.st.Recovered = len(vanished), len(recovered)
	// A key the KMS keeps as Destroyed, and does not list, is no miss.
	missed := 0
	for _, m := range recovered {
		if fromKMIPState(m.state) != engine.StateDestroyed {
			missed++
		}
	}
	if missed > 0 {
		s.log.Warn("the KMS's Locate missed known keys; found by their identifiers", "keys", missed)
		p.st.Warnings = append(p.st.Warnings, fmt.Sprintf("the KMS's Locate missed %s, found by their identifiers: "+
			"new keys past what Locate returns may be missed too (a result limit of the KMS? lower locate_page_size, or set locate = \"client\")", engine.Plural(missed, "known key")))
	}
	// Only the KMS saying it does not hold the object makes a key gone; a
	// read that failed otherwise keeps what was known of it.
	var unsure []string
	for _, uid := range slices.Sorted(maps.Keys(rfailed)) {
		if ke := (*kmipError)(nil); errors.As(rfailed[uid], &ke) && ke.reason == kmip.ResultReasonItemNotFound {
			continue
		}
		k := s.known[uid]
		recovered[uid] = k.meta([]string{k.row.Name}, toKMIPState(k.state))
		unsure = append(unsure, k.row.Name+": "+brief(rfailed[uid]))
	}
	if len(unsure) > 0 {
		p.st.Warnings = append(p.st.Warnings, fmt.Sprintf("%s missing from the Locate could not be read, kept as they were: %s",
			engine.Plural(len(unsure), "known key"), grouped(unsure, s.leaf)))
	}
	p.recovered = recovered
	p.uids = slices.AppendSeq(p.uids, maps.Keys(recovered))
	slices.Sort(p.uids)
	return nil
}

// attributes is phase 2. A new object is read in full. A name changes
// only by Modify or Delete Attribute, so between full refreshes a known
// object's name is not read again, and only the states that can change
// what a ring holds are (watched): a full refresh (every full_refresh)
// reads every Name and State again, which catches renames and the state
// changes of keys no ring holds. A known key whose state or name moved is
// read in full again.
func (p *pollState) attributes() error {
	p.metas = map[string]*objectMeta{}
	maps.Copy(p.metas, p.recovered)
	return p.read(p.uids)
}

// read reads what this poll needs of the located objects uids (see
// attributes) into metas.
func (p *pollState) read(uids []string) error {
	s := p.s
	fresh, light, stateOnly := p.sortReads(uids)
	fm, failed, err := s.attributes(p.ctx, p.c, fresh, attrNames, p.st)
	if err != nil {
		return err
	}
	maps.Copy(p.metas, fm)
	moved, err := p.readMoved(light, stateOnly, failed)
	if err != nil {
		return err
	}
	mm, mfailed, err := s.attributes(p.ctx, p.c, moved, attrNames, p.st)
	if err != nil {
		return err
	}
	maps.Copy(p.metas, mm)
	maps.Copy(failed, mfailed)
	for _, uid := range slices.Sorted(maps.Keys(failed)) {
		ferr := failed[uid]
		k := s.known[uid]
		known := k != nil && k.row.ID != ""
		if known {
			s.log.Warn("cannot read attributes; keeping what was known", "uid", uid, "err", ferr)
			p.metas[uid] = k.meta([]string{k.row.Name}, toKMIPState(k.state))
		} else {
			s.log.Warn("cannot read attributes of a located object; skipped", "uid", uid, "err", ferr)
		}
		// A refusal is the KMS's to make (nothing is recorded); an answer
		// keyward cannot use, or an object the Locate returned that the
		// KMS then says does not exist, is a fault of the KMS's to fix.
		var ae *answerError
		var ke *kmipError
		switch {
		case errors.As(ferr, &ae) && known:
			p.st.Warnings = append(p.st.Warnings, fmt.Sprintf("%s (%s): %v; kept what was known", k.row.Name, uid, ferr))
		case errors.As(ferr, &ae):
			p.st.Warnings = append(p.st.Warnings, fmt.Sprintf("%s: %v; skipped", uid, ferr))
		case errors.As(ferr, &ke) && ke.reason == kmip.ResultReasonItemNotFound && !known:
			p.st.Warnings = append(p.st.Warnings, fmt.Sprintf("the KMS %s located %s, then said it does not exist (%s); skipped", s.answerer(), uid, ke.brief()))
		}
	}
	return nil
}

// sortReads says what is read of each located object: everything
// (fresh), Name and State (light), State alone (stateOnly), or nothing,
// its meta then coming from what is known.
func (p *pollState) sortReads(uids []string) (fresh, light, stateOnly []string) {
	s := p.s
	watched := s.watched()
	for _, uid := range uids {
		if p.recovered[uid] != nil {
			continue // read in full by recheck
		}
		k := s.known[uid]
		known := k != nil && k.row.ID != ""
		other, isOther := s.others[uid]
		switch {
		case !known && !isOther:
			fresh = append(fresh, uid)
		case p.full:
			light = append(light, uid)
		case !known && s.matchesAny(other):
			fresh = append(fresh, uid) // an application's pattern matches it now
		case !known:
			p.metas[uid] = &objectMeta{uid: uid, names: []string{other}, objType: kmip.ObjectTypeSymmetricKey}
		case watched[uid]:
			stateOnly = append(stateOnly, uid)
		default:
			p.metas[uid] = k.meta([]string{k.row.Name}, toKMIPState(k.state))
		}
	}
	return fresh, light, stateOnly
}

// readMoved reads the Name and State of light and the State of stateOnly,
// and returns (sorted) the objects whose name or state moved, to be read
// in full; the reads that failed are added to failed.
func (p *pollState) readMoved(light, stateOnly []string, failed map[string]error) ([]string, error) {
	s := p.s
	var moved []string
	lm, lfailed, err := s.attributes(p.ctx, p.c, light, lightAttrs, p.st)
	if err != nil {
		return nil, err
	}
	for uid, m := range lm {
		k := s.known[uid]
		if k == nil || k.row.ID == "" { // an object of no application, seen before
			if slices.Contains(m.names, s.others[uid]) {
				m.objType = kmip.ObjectTypeSymmetricKey
				p.metas[uid] = m
			} else {
				moved = append(moved, uid)
			}
			continue
		}
		if fromKMIPState(m.state) != k.state || !slices.Contains(m.names, k.row.Name) {
			moved = append(moved, uid)
			continue
		}
		p.metas[uid] = k.meta(m.names, m.state)
	}
	sm, sfailed, err := s.attributes(p.ctx, p.c, stateOnly, stateAttr, p.st)
	if err != nil {
		return nil, err
	}
	for uid, m := range sm {
		if k := s.known[uid]; fromKMIPState(m.state) != k.state {
			moved = append(moved, uid)
		} else {
			p.metas[uid] = k.meta([]string{k.row.Name}, m.state)
		}
	}
	maps.Copy(failed, lfailed)
	maps.Copy(failed, sfailed)
	slices.Sort(moved)
	return moved, nil
}

// match finds the application each located object belongs to: in server
// mode among the ones whose Locate returned it (re-checked here),
// otherwise among all of them with the literal prefix of the pattern as a
// cheap first filter. The objects of no application are remembered by
// name (others), and what a server-side Locate returned that does not
// match is counted.
func (p *pollState) match() error {
	s := p.s
	var locatedBy map[string][]int
	if p.perApp != nil {
		locatedBy = make(map[string][]int, len(p.uids))
		for i, l := range p.perApp {
			for _, uid := range l {
				locatedBy[uid] = append(locatedBy[uid], i)
			}
		}
	}
	prefixes := make([]string, len(p.apps))
	all := make([]int, len(p.apps))
	for i, a := range p.apps {
		prefixes[i], all[i] = literalPrefix(a.Pattern), i
	}
	p.matched = map[string]appMatch{}
	for _, uid := range p.uids {
		m := p.metas[uid]
		if m == nil || (m.objType != 0 && m.objType != kmip.ObjectTypeSymmetricKey) {
			continue
		}
		try := all
		if l, ok := locatedBy[uid]; ok { // a recovered key may belong to any
			try = l
			slices.Sort(try)
		}
	names:
		for _, n := range m.names {
			for _, i := range try {
				if strings.HasPrefix(n, prefixes[i]) && Match(p.apps[i].Pattern, n) {
					p.matched[uid] = appMatch{app: i, name: n}
					break names
				}
			}
		}
	}
	if s.kekUID != "" {
		delete(p.matched, s.kekUID) // the key-encryption key never joins a ring
	}
	p.st.Matched = len(p.matched)
	others := make(map[string]string, len(s.others))
	for _, uid := range p.uids {
		if _, ok := p.matched[uid]; !ok && p.metas[uid] != nil && len(p.metas[uid].names) > 0 {
			others[uid] = p.metas[uid].names[0]
		}
	}
	s.others = others
	mismatched := 0
	for i, l := range p.perApp {
		for _, uid := range l {
			if mm, ok := p.matched[uid]; !ok || mm.app != i {
				mismatched++
				s.log.Debug("KMS located an object whose name does not match the pattern; ignored", "uid", uid, "pattern", p.apps[i].Pattern)
			}
		}
	}
	// match runs again after a second Locate (settle): count each object once.
	p.st.Mismatched += mismatched - p.mismatched
	p.mismatched = mismatched
	return nil
}

// probeWildcards says how names were matched this poll and, while that is
// not known yet, learns it (learnWildcards).
func (p *pollState) probeWildcards() error {
	switch {
	case p.s.wildcards > 0:
		p.st.Wildcards = "server"
	case p.s.wildcards < 0:
		p.st.Wildcards = "client"
	default:
		p.st.Wildcards = "probing"
		return p.s.learnWildcards(p.ctx, p.c, p.matched, p.st)
	}
	return nil
}

// candidates is phase 3: each application's ring candidates, the
// identifiers whose material a ring wants, and an inventory ID for every
// newly matched key (so events can name it). Every poll asks again for
// what a ring still lacks: a refusal may be transient (a KMS busy or
// restarting), and a ring behind the KMS leaves the proxy encrypting with
// an older generation.
func (p *pollState) candidates() error {
	s := p.s
	p.now = s.deps.Now().UTC()
	p.cands = make([][]keyring.Candidate, len(p.apps))
	p.wanted = nil
	for _, uid := range p.uids {
		mm, ok := p.matched[uid]
		if !ok {
			continue
		}
		m := p.metas[uid]
		p.cands[mm.app] = append(p.cands[mm.app], keyring.Candidate{UID: uid, Name: mm.name, State: fromKMIPState(m.state),
			Activated: m.activation, Created: m.initial})
	}
	for i, a := range p.apps {
		p.wanted = append(p.wanted, s.deps.Rings.Wanted(a.Name, p.cands[i])...)
	}
	usedIDs := map[string]string{}
	for _, k := range s.known {
		usedIDs[k.id] = k.uid
	}
	for _, uid := range p.uids {
		mm, ok := p.matched[uid]
		if !ok || s.known[uid] != nil {
			continue
		}
		id := engine.KeyID(s.cfg.Name, mm.name, "")
		if other, taken := usedIDs[id]; taken && other != uid {
			id = engine.KeyID(s.cfg.Name, mm.name, uid) // two objects share a name
		}
		usedIDs[id] = uid
		s.known[uid] = &knownKey{uid: uid, id: id}
	}
	return nil
}

// maxRelocates bounds the Locates settle adds to one poll.
const maxRelocates = 2

// settle runs after candidates: when the reads show that the KMS changed
// under the poll (an application's encrypting generation is no longer
// Active and no newer Active generation was located: a rotation between the
// Locate and the reads deactivated it after making its successor, which the
// Locate did not return yet), it locates again, reads what is new, and
// matches and chooses candidates again, at most maxRelocates times and only
// while a Locate returns something new. A poll where nothing changed, or
// that saw a rotation whole, sends no extra Locate; a KMS that really has no
// Active key left still leaves the ring without an encryptor (and alerts).
// Those Locates are counted in Relocates. One that fails does not fail the
// poll: see keepEncryptors.
func (p *pollState) settle() error {
	s := p.s
	for range maxRelocates {
		app := p.unsettled()
		if app == "" {
			return nil
		}
		if s.beforeRelocate != nil {
			s.beforeRelocate()
		}
		before := p.st.Locates
		uids, perApp, err := p.located(p.unsettledIndexes())
		p.st.Relocates += p.st.Locates - before
		if err != nil {
			p.keepEncryptors("the second Locate", err)
			return nil
		}
		var added []string
		for _, uid := range uids {
			if _, seen := slices.BinarySearch(p.uids, uid); !seen {
				added = append(added, uid)
			}
		}
		s.log.Info("the encrypting generation left during the poll; located again", "app", app, "new_objects", len(added))
		if len(added) == 0 {
			return nil // the KMS holds nothing more: what it shows stands
		}
		p.perApp = mergeLocated(p.perApp, perApp)
		p.uids = append(p.uids, added...)
		slices.Sort(p.uids)
		p.st.Located = len(p.uids)
		if err := p.read(added); err != nil {
			p.keepEncryptors("reading what the second Locate found", err)
			return nil
		}
		if err := p.match(); err != nil {
			return err
		}
		if err := p.candidates(); err != nil {
			return err
		}
	}
	return nil
}

// keepEncryptors is what a poll does when settle's Locate, or the read
// of what it found, failed (step, err):
// the first Locate and the reads worked, so the inventory records what
// they found, but whether the KMS made a successor to an encrypting
// generation it deactivated is not known. Each unsettled application's
// ring keeps encrypting with that generation (the ring alone keeps its
// state; a compromised or destroyed one still leaves at once), no
// material is fetched this poll (new generations wait for the next one:
// the connection may be gone), and the source is degraded with the
// step's error. The next poll settles it: the successor joins, or the
// ring is left without an encryptor and the alert is raised then.
func (p *pollState) keepEncryptors(step string, err error) {
	s := p.s
	var kept []string
	for _, app := range p.unsettledApps() {
		i := slices.IndexFunc(p.apps, func(a config.Application) bool { return a.Name == app })
		r, _ := s.deps.Rings.Ring(app)
		enc := encrypting(r)
		for j, c := range p.cands[i] {
			if c.UID == enc.UID && c.State == engine.StateDeactivated {
				p.cands[i][j].State = enc.State
				kept = append(kept, fmt.Sprintf("%s keeps encrypting with %s (the KMS shows it Deactivated)", app, enc.Name))
			}
		}
	}
	waiting := len(p.wanted)
	p.wanted = nil
	p.relocateErr = err
	why := brief(err)
	if ke := (*kmipError)(nil); !errors.As(err, &ke) {
		why = s.connected + ": " + explain(err, s.leaf, s.cfg.ServerName, s.connected)
	}
	msg := fmt.Sprintf("%s (an application's encrypting generation left during the poll) failed: %s", step, why)
	if len(kept) > 0 {
		msg += "; " + strings.Join(kept, "; ") + " until a poll finds a successor or that there is none"
	}
	if waiting > 0 {
		msg += fmt.Sprintf("; %s wait for the next poll", engine.Plural(waiting, "new generation"))
	}
	s.log.Warn("the encrypting generation left during the poll and "+step+" failed; the rings keep their encryptors", "err", err)
	p.st.Warnings = append(p.st.Warnings, msg)
}

// unsettledApps are the applications unsettled names, all of them.
func (p *pollState) unsettledApps() []string {
	var out []string
	for _, i := range p.unsettledIndexes() {
		out = append(out, p.apps[i].Name)
	}
	return out
}

// unsettledIndexes are the indexes in p.apps of the unsettled
// applications: those a Locate sent again asks for.
func (p *pollState) unsettledIndexes() []int {
	var out []int
	for i := range p.apps {
		if p.unsettledApp(i) {
			out = append(out, i)
		}
	}
	return out
}

// unsettled names the first application whose generation that encrypts
// now is not an Active candidate of this poll while no newer Active one is
// ("" when there is none): its ring would be left without an encryptor, or
// with an older one, perhaps only because the poll saw half a rotation.
func (p *pollState) unsettled() string {
	for i, a := range p.apps {
		if p.unsettledApp(i) {
			return a.Name
		}
	}
	return ""
}

// unsettledApp says whether application i is unsettled (see unsettled).
func (p *pollState) unsettledApp(i int) bool {
	r, ok := p.s.deps.Rings.Ring(p.apps[i].Name)
	if !ok {
		return false
	}
	enc := encrypting(r)
	if enc == nil {
		return false // nothing encrypted before the poll: nothing to lose
	}
	rule := keyring.Order(slices.Clone(p.cands[i])) // Order sorts what it is given
	for _, c := range p.cands[i] {
		if !c.State.CanEncrypt() {
			continue
		}
		g := keyring.Generation{UID: c.UID, Name: c.Name, Activated: c.Activated, Created: c.Created}
		if c.UID == enc.UID || keyring.Newer(rule, g, *enc) {
			return false
		}
	}
	return true
}

// mergeLocated is the union, per application, of two Locates' answers (nil
// when either listed every key instead).
func mergeLocated(a, b [][]string) [][]string {
	if a == nil || b == nil || len(a) != len(b) {
		return nil
	}
	out := make([][]string, len(a))
	for i := range a {
		out[i] = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a[i]), b[i]...))))
	}
	return out
}

// fetch gets the material of the wanted keys (one batched Get). A key
// whose material cannot be got, or changed under the same identifier, is
// refused.
func (p *pollState) fetch() error {
	if len(p.wanted) == 0 {
		return nil
	}
	s := p.s
	mats, gfail, err := s.getMaterial(p.ctx, p.c, p.wanted, p.st)
	if err != nil {
		return err
	}
	for _, uid := range slices.Sorted(maps.Keys(gfail)) {
		const what = "cannot fetch the key material: "
		p.refuse(uid, engine.SeverityWarn, what+gfail[uid].Error(), what+brief(gfail[uid]))
	}
	for _, uid := range slices.Sorted(maps.Keys(mats)) {
		m, k := mats[uid], s.known[uid]
		fp := keyring.Fingerprint(m)
		if k.fp != "" && k.fp != fp {
			clear(m)
			why := fmt.Sprintf("the key material under this identifier changed (fingerprint was %s, now %s); not used", short(k.fp), short(fp))
			p.refuse(uid, engine.SeverityAlert, why, why)
			continue
		}
		p.material[uid] = m
	}
	return nil
}

// dropMaterial zeroes the material the rings did not take.
func (p *pollState) dropMaterial() {
	for uid, m := range p.material {
		clear(m)
		delete(p.material, uid)
	}
}

// updateRings is phase 4: each application's ring takes its candidates,
// with the material fetched for them; then the refusals that no longer
// hold are forgotten, so a new one is news again.
func (p *pollState) updateRings() error {
	s := p.s
	for i, a := range p.apps {
		for j := range p.cands[i] {
			if m, ok := p.material[p.cands[i][j].UID]; ok {
				p.cands[i][j].Material = m
				delete(p.material, p.cands[i][j].UID)
			}
		}
		if err := s.updateRing(p.ctx, a.Name, p.cands[i], p); err != nil {
			return err
		}
	}
	for _, uid := range p.wanted {
		if !p.refused[uid] {
			s.known[uid].refusal = ""
		}
	}
	for uid := range p.matched {
		if k := s.known[uid]; !p.refused[uid] && strings.HasPrefix(k.refusal, "left out") {
			k.refusal = "" // back in the ring's rule: a new refusal is news again
		}
	}
	return nil
}

// record is phase 5: the inventory rows that changed and the state
// events, a known key no longer found taken for destroyed, all applied in
// one batch.
func (p *pollState) record() error {
	s := p.s
	fps := map[string]string{}
	for _, a := range p.apps {
		if r, ok := s.deps.Rings.Ring(a.Name); ok {
			for _, g := range r.Gens {
				fps[g.UID] = g.Fingerprint
			}
		}
	}
	var upserts []engine.Key
	seen := map[string]bool{}
	for _, uid := range p.uids {
		mm, ok := p.matched[uid]
		if !ok {
			continue
		}
		seen[uid] = true
		if row, changed := p.row(uid, mm, fps[uid]); changed {
			upserts = append(upserts, row)
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(s.known)) {
		k := s.known[uid]
		if seen[uid] || k.row.ID == "" || k.state == engine.StateDestroyed {
			continue
		}
		row := k.row
		now := p.now
		row.State = engine.StateDestroyed
		row.Destroyed = &now
		p.event(uid, engine.OpDestroyed, engine.SeverityAlert, "no longer found in the KMS (destroyed or deleted there, or renamed): treated as destroyed")
		k.state, k.row = row.State, row
		row.Updated = now
		upserts = append(upserts, row)
	}
	if len(upserts) > 0 || len(p.events) > 0 {
		if err := p.sink.Apply(p.ctx, sources.Batch{Source: s.cfg.Name, Upsert: upserts, Events: p.events}); err != nil {
			// Forget what was remembered so the next poll compares with
			// what the inventory really holds.
			s.known, s.loaded = map[string]*knownKey{}, false
			return fmt.Errorf("record the poll in the inventory: %w", err)
		}
	}
	return nil
}

// row is the inventory row of the matched key uid as this poll sees it
// (fp is its fingerprint in a ring, if one holds it), with the event its
// discovery or state change makes; changed says whether it differs from
// the row last written.
func (p *pollState) row(uid string, mm appMatch, fp string) (engine.Key, bool) {
	s := p.s
	m, a, k := p.metas[uid], p.apps[mm.app], s.known[uid]
	if fp != "" {
		k.fp = fp
	}
	row := engine.Key{ID: k.id, Source: s.cfg.Name, Name: mm.name, Algorithm: algName(m), Length: int(m.length),
		State: fromKMIPState(m.state), Application: a.Name, Fingerprint: k.fp, Created: m.initial, Activated: m.activation,
		Deactivated: m.deactivate, Destroyed: m.destroy, RotateAfter: a.RotateAfter, Tags: map[string]string{"kmip_uid": uid}}
	if row.Length == 0 {
		row.Length = k.row.Length
	}
	switch {
	case k.row.ID == "" && (row.State == engine.StateCompromised || row.State == engine.StateDestroyed):
		// Already compromised or destroyed when first seen: the same
		// alert as a key that becomes so while the daemon runs.
		op, sev := stateOp(row.State)
		p.event(uid, op, sev, fmt.Sprintf("found in the KMS already %s (%s) for application %s: it never joins the ring", row.State, describe(row), a.Name))
	case k.row.ID == "":
		p.event(uid, engine.OpDiscovered, engine.SeverityInfo, fmt.Sprintf("found in the KMS (%s, %s) for application %s", row.State, describe(row), a.Name))
		if r, _ := s.deps.Rings.Ring(a.Name); fp != "" && !p.addedNow[uid] && encrypting(r) != nil && encrypting(r).UID == uid {
			// The ring took it in a change whose batch never reached the
			// inventory (a kill between the two, a refused write): the
			// rotation is recorded now, once.
			p.event(uid, engine.OpRotated, engine.SeverityInfo, fmt.Sprintf("%s (key id %s) encrypts for %s: it joined the ring in a change not recorded when it was made (the daemon stopped, or the database refused the poll's batch)",
				mm.name, keyring.ShortID(fp), a.Name))
		}
	case k.state != row.State:
		op, sev := stateOp(row.State)
		p.event(uid, op, sev, fmt.Sprintf("state %s → %s in the KMS", k.state, row.State))
	}
	k.state = row.State
	if reflect.DeepEqual(k.row, row) {
		return row, false
	}
	k.row = row
	row.Updated = p.now
	return row, true
}

// event records an activity event about the key uid ("" for the
// application as a whole) with the poll's batch.
func (p *pollState) event(uid, op string, sev engine.Severity, details string) {
	id := ""
	if k := p.s.known[uid]; k != nil {
		id = k.id
	}
	p.events = append(p.events, engine.Event{Time: p.now, KeyID: id, Source: p.s.cfg.Name, Operation: op, Actor: p.s.cfg.Name,
		Origin: engine.OriginSource, Severity: sev, Details: details})
}

// refuse notes that a ring could not take uid: the event (with why in
// full) once, while the refusal stays the same (same, stable across
// polls), and same in the poll's LeftOut, which the source health shows.
func (p *pollState) refuse(uid string, sev engine.Severity, why, same string) {
	p.refused[uid] = true
	p.st.LeftOut = append(p.st.LeftOut, p.matched[uid].name+": "+same)
	if k := p.s.known[uid]; k.refusal != same {
		k.refusal = same
		p.event(uid, engine.OpRefused, sev, why)
	}
}

// watched are the known keys whose state is read at every poll: those a
// ring holds or could not take, and those waiting to be activated (a
// Pre-Active key that becomes Active may join a ring). A state change of
// any other key (a generation already pushed out of its ring) is seen at
// the next full refresh, or at once if the KMS stops listing it.
func (s *Source) watched() map[string]bool {
	w := map[string]bool{}
	for _, a := range s.cfg.Applications {
		if r, ok := s.deps.Rings.Ring(a.Name); ok {
			for _, g := range r.Gens {
				w[g.UID] = true
			}
		}
	}
	for uid, k := range s.known {
		if k.state == engine.StatePreActive || k.refusal != "" {
			w[uid] = true
		}
	}
	return w
}

// matchesAny says whether an application's pattern matches name.
func (s *Source) matchesAny(name string) bool {
	for _, a := range s.cfg.Applications {
		if Match(a.Pattern, name) {
			return true
		}
	}
	return false
}

// appMatch is the application a located object belongs to, and the name
// of the object's that matched its pattern.
type appMatch struct {
	app  int
	name string
}

// learnWildcards finds out whether the KMS expands wildcards in Locate,
// after a poll that listed every symmetric key and matched names here: it
// sends one Locate with the pattern of the first application that has a
// matching key, narrowed to one of those keys by its Unique Identifier. The
// server expands wildcards when that Locate returns the key; otherwise (or
// on a refusal) names are matched here from then on. A server that ignores
// the identifier answers every key of the pattern, and then must return
// every key the listing matched to the application: one that expands some
// patterns partly would miss keys at every later poll. With no matching key
// anywhere, the question waits for a later poll.
//
// One probe, narrowed, not one Locate per application: a server that does
// not index names (PyKMIP) reads the names of every object it holds for a
// Locate by Name, unless an earlier filter (the identifier) already ruled
// the object out. A pattern Locate per application on the first poll cost
// applications × keys name reads, quadratic in the size of the KMS (at
// 10,000 keys PyKMIP did not answer the first batch of them within 5
// minutes), and even one unnarrowed probe cost a tenth of a first poll.
func (s *Source) learnWildcards(ctx context.Context, c *kmipclient.Client, matched map[string]appMatch, st *PollStats) error {
	probe, uid := -1, ""
	for u, mm := range matched {
		if probe < 0 || mm.app < probe || mm.app == probe && u < uid {
			probe, uid = mm.app, u
		}
	}
	if probe < 0 {
		return nil
	}
	pattern := s.cfg.Applications[probe].Pattern
	res, err := s.locate(ctx, c, []query{{name: pattern, uid: uid}}, st)
	if ke := (*kmipError)(nil); errors.As(err, &ke) {
		// Perhaps the identifier was refused, not the wildcard: ask again
		// without it.
		res, err = s.locate(ctx, c, byName(pattern), st)
	}
	if ke := (*kmipError)(nil); errors.As(err, &ke) {
		// A KMS that refuses a wildcard in a Name does not expand them.
		s.wildcards = -1
		s.log.Info("the KMS refuses wildcards in Locate; filtering names here", "err", err)
		return nil
	}
	if err != nil {
		return err
	}
	want, found := 0, 0
	for _, mm := range matched {
		if mm.app == probe {
			want++
		}
	}
	for _, u := range res[0] {
		if mm, ok := matched[u]; ok && mm.app == probe {
			found++
		} else {
			st.Mismatched++
			s.log.Debug("KMS located an object whose name does not match the pattern; ignored", "uid", u, "pattern", pattern)
		}
	}
	narrowed := len(res[0]) == 1 && res[0][0] == uid
	if works := narrowed || found == want && slices.Contains(res[0], uid); works {
		s.wildcards = 1
		s.log.Info("the KMS matches wildcards in Locate; locating each application's keys by its pattern")
	} else {
		s.wildcards = -1
		s.log.Info("the KMS does not match wildcards in Locate; filtering names here")
	}
	return nil
}

// holdsLiveKeys says whether an earlier poll found a key not yet destroyed.
func (s *Source) holdsLiveKeys() bool {
	for _, k := range s.known {
		if k.row.ID != "" && k.state != engine.StateDestroyed {
			return true
		}
	}
	return false
}

func short(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

func describe(k engine.Key) string {
	if k.Length > 0 {
		return fmt.Sprintf("%s-%d", k.Algorithm, k.Length)
	}
	return k.Algorithm
}

func algName(m *objectMeta) string {
	if m.alg == 0 {
		return m.algText
	}
	return ttlv.EnumStr(m.alg)
}

func stateOp(s engine.State) (string, engine.Severity) {
	switch s {
	case engine.StateActive:
		return engine.OpActivated, engine.SeverityInfo
	case engine.StateDeactivated:
		return engine.OpDeactivated, engine.SeverityInfo
	case engine.StateCompromised:
		return engine.OpCompromised, engine.SeverityAlert
	case engine.StateDestroyed:
		return engine.OpDestroyed, engine.SeverityAlert
	}
	return engine.OpEdited, engine.SeverityInfo
}

// kmipStates pairs each key state with its KMIP state, both ways.
var kmipStates = [...]struct {
	state engine.State
	kmip  kmip.State
}{
	{engine.StatePreActive, kmip.StatePreActive},
	{engine.StateActive, kmip.StateActive},
	{engine.StateDeactivated, kmip.StateDeactivated},
	{engine.StateCompromised, kmip.StateCompromised},
	{engine.StateDestroyed, kmip.StateDestroyed},
}

func fromKMIPState(s kmip.State) engine.State {
	if s == kmip.StateDestroyedCompromised {
		return engine.StateDestroyed
	}
	for _, p := range kmipStates {
		if p.kmip == s {
			return p.state
		}
	}
	return engine.StatePreActive // unknown: never encrypts nor decrypts
}

func toKMIPState(s engine.State) kmip.State {
	for _, p := range kmipStates {
		if p.state == s {
			return p.kmip
		}
	}
	return kmip.StatePreActive
}
