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

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// PollStats says what one poll cost and found; the socket API serves the
// latest as a KMIP source's "poll".
type PollStats = api.KMIPPoll

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

// Poll runs one poll now and reports health.
func (s *Source) Poll(ctx context.Context, sink sources.Sink) error {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	s.pollStarted()
	defer s.pollEnded()
	st := PollStats{Started: s.deps.Now()}
	err := s.safePoll(ctx, sink, &st)
	st.Duration = s.deps.Now().Sub(st.Started)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
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
		if herr := sink.SetHealth(ctx, s.cfg.Name, engine.HealthDegraded, reason); herr != nil {
			s.log.Error("cannot record source health", "err", herr)
		}
		return errors.New(reason)
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
	problems = append(problems, st.Warnings...)
	// The poll itself worked, so the source keeps its interval; what it
	// could not do makes the source degraded until it can.
	h, reason := engine.HealthOK, strings.Join(problems, "; ")
	if reason != "" {
		h = engine.HealthDegraded
		if sr, ok := sink.(sources.SyncRecorder); ok {
			if err := sr.Synced(ctx, s.cfg.Name); err != nil {
				s.log.Error("cannot record the sync", "err", err)
			}
		}
	}
	if herr := sink.SetHealth(ctx, s.cfg.Name, h, reason); herr != nil {
		s.log.Error("cannot record source health", "err", herr)
	}
	return nil
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

// safePoll turns a panic inside the KMIP client into a failed poll:
// ovh/kmip-go v0.8.1 can send on a channel its reader just closed when the
// KMS drops the connection mid-request (a data race upstream), and that must
// degrade the source, not stop the daemon.
func (s *Source) safePoll(ctx context.Context, sink sources.Sink, st *PollStats) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the KMS connection broke during a request (%v)", r)
		}
	}()
	return s.poll(ctx, sink, st)
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

func (s *Source) poll(ctx context.Context, sink sources.Sink, st *PollStats) error {
	if err := s.loadKnown(ctx, sink); err != nil {
		return err
	}
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	apps := s.cfg.Applications
	st.Protocol, st.Address = c.Version().String(), s.connected
	if len(s.failedFirst) > 0 {
		st.FailedAddresses = slices.Clone(s.failedFirst)
		st.Warnings = append(st.Warnings, fmt.Sprintf("failover: %s answered after %s", s.connected, strings.Join(s.failedFirst, "; ")))
	}

	// 1. Locate. A server known to expand wildcards gets one Locate per
	// application (batched). Otherwise every symmetric key is listed once and
	// names are matched here; while the server's behaviour is not known yet,
	// one probe after the listing learns it (learnWildcards).
	full := s.fullDue()
	st.Full = full
	var uids []string
	var perApp [][]string
	if s.wildcards > 0 {
		pats := make([]string, len(apps))
		for i, a := range apps {
			pats[i] = a.Pattern
		}
		if perApp, err = s.locate(ctx, c, byName(pats...), st); err != nil {
			return err
		}
		for _, l := range perApp {
			uids = append(uids, l...)
		}
		if len(uids) == 0 && s.cfg.Locate == "auto" && s.holdsLiveKeys() {
			// Every pattern came back empty while keys are known: perhaps
			// a failover KMS that does not expand wildcards. List and learn
			// again rather than take every key for destroyed.
			s.log.Warn("the KMS located nothing for any application's pattern; listing every key to check")
			s.wildcards, perApp = 0, nil
		}
	}
	if s.wildcards <= 0 {
		all, err := s.locate(ctx, c, byName(""), st)
		if err != nil {
			return err
		}
		uids = all[0]
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	st.Located = len(uids)

	// A known key missing from the Locate is read by its identifier before
	// it is taken for destroyed: a Locate can miss objects (a page shifted
	// by a deletion between two pages, a limit of the server's own), and
	// one read settles it. Those the KMS still holds rejoin the poll.
	var vanished []string
	for uid, k := range s.known {
		if _, located := slices.BinarySearch(uids, uid); !located && k.row.ID != "" && k.state != engine.StateDestroyed {
			vanished = append(vanished, uid)
		}
	}
	slices.Sort(vanished)
	recovered, rfailed, err := s.attributes(ctx, c, vanished, attrNames, st)
	if err != nil {
		return err
	}
	st.Rechecked, st.Recovered = len(vanished), len(recovered)
	// A key the KMS keeps as Destroyed, and does not list, is no miss.
	missed := 0
	for _, m := range recovered {
		if fromKMIPState(m.state) != engine.StateDestroyed {
			missed++
		}
	}
	if missed > 0 {
		s.log.Warn("the KMS's Locate missed known keys; found by their identifiers", "keys", missed)
		st.Warnings = append(st.Warnings, fmt.Sprintf("the KMS's Locate missed %s, found by their identifiers: "+
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
		st.Warnings = append(st.Warnings, fmt.Sprintf("%s missing from the Locate could not be read, kept as they were: %s",
			engine.Plural(len(unsure), "known key"), grouped(unsure, s.leaf)))
	}
	uids = slices.AppendSeq(uids, maps.Keys(recovered))
	slices.Sort(uids)

	// 2. Attributes. A new object is read in full. A name changes only by
	// Modify or Delete Attribute, so between full refreshes a known object's
	// name is not read again, and only the states that can change what a
	// ring holds are (watched): a full refresh (every full_refresh) reads
	// every Name and State again, which catches renames and the state
	// changes of keys no ring holds. A known key whose state or name moved
	// is read in full again.
	watched := s.watched()
	var fresh, light, stateOnly, moved []string
	metas := map[string]*objectMeta{}
	for _, uid := range uids {
		if recovered[uid] != nil {
			continue // read in full above
		}
		k := s.known[uid]
		known := k != nil && k.row.ID != ""
		other, isOther := s.others[uid]
		switch {
		case !known && !isOther:
			fresh = append(fresh, uid)
		case full:
			light = append(light, uid)
		case !known && s.matchesAny(other):
			fresh = append(fresh, uid) // an application's pattern matches it now
		case !known:
			metas[uid] = &objectMeta{uid: uid, names: []string{other}, objType: kmip.ObjectTypeSymmetricKey}
		case watched[uid]:
			stateOnly = append(stateOnly, uid)
		default:
			metas[uid] = k.meta([]string{k.row.Name}, toKMIPState(k.state))
		}
	}
	fm, failed, err := s.attributes(ctx, c, fresh, attrNames, st)
	if err != nil {
		return err
	}
	maps.Copy(metas, fm)
	maps.Copy(metas, recovered)
	lm, lfailed, err := s.attributes(ctx, c, light, lightAttrs, st)
	if err != nil {
		return err
	}
	for uid, m := range lm {
		k := s.known[uid]
		if k == nil || k.row.ID == "" { // an object of no application, seen before
			if slices.Contains(m.names, s.others[uid]) {
				m.objType = kmip.ObjectTypeSymmetricKey
				metas[uid] = m
			} else {
				moved = append(moved, uid)
			}
			continue
		}
		if fromKMIPState(m.state) != k.state || !slices.Contains(m.names, k.row.Name) {
			moved = append(moved, uid)
			continue
		}
		metas[uid] = k.meta(m.names, m.state)
	}
	sm, sfailed, err := s.attributes(ctx, c, stateOnly, stateAttr, st)
	if err != nil {
		return err
	}
	for uid, m := range sm {
		if k := s.known[uid]; fromKMIPState(m.state) != k.state {
			moved = append(moved, uid)
		} else {
			metas[uid] = k.meta([]string{k.row.Name}, m.state)
		}
	}
	slices.Sort(moved)
	mm, mfailed, err := s.attributes(ctx, c, moved, attrNames, st)
	if err != nil {
		return err
	}
	maps.Copy(metas, mm)
	for _, f := range []map[string]error{lfailed, sfailed, mfailed} {
		maps.Copy(failed, f)
	}
	for uid, ferr := range failed {
		if k := s.known[uid]; k != nil && k.row.ID != "" {
			s.log.Warn("cannot read attributes; keeping what was known", "uid", uid, "err", ferr)
			metas[uid] = k.meta([]string{k.row.Name}, toKMIPState(k.state))
		} else {
			s.log.Warn("cannot read attributes of a located object; skipped", "uid", uid, "err", ferr)
		}
	}
	// Which applications a located object may belong to: in server mode the
	// ones whose Locate returned it (re-checked below), otherwise all of them
	// with the literal prefix of the pattern as a cheap first filter.
	var locatedBy map[string][]int
	if perApp != nil {
		locatedBy = make(map[string][]int, len(uids))
		for i, l := range perApp {
			for _, uid := range l {
				locatedBy[uid] = append(locatedBy[uid], i)
			}
		}
	}
	prefixes := make([]string, len(apps))
	all := make([]int, len(apps))
	for i, a := range apps {
		prefixes[i], all[i] = literalPrefix(a.Pattern), i
	}
	matched := map[string]appMatch{}
	for _, uid := range uids {
		m := metas[uid]
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
				if strings.HasPrefix(n, prefixes[i]) && Match(apps[i].Pattern, n) {
					matched[uid] = appMatch{app: i, name: n}
					break names
				}
			}
		}
	}
	if s.kekUID != "" {
		delete(matched, s.kekUID) // the key-encryption key never joins a ring
	}
	st.Matched = len(matched)
	others := make(map[string]string, len(s.others))
	for _, uid := range uids {
		if _, ok := matched[uid]; !ok && metas[uid] != nil && len(metas[uid].names) > 0 {
			others[uid] = metas[uid].names[0]
		}
	}
	s.others = others
	if perApp != nil {
		for i, l := range perApp {
			for _, uid := range l {
				if mm, ok := matched[uid]; !ok || mm.app != i {
					st.Mismatched++
					s.log.Debug("KMS located an object whose name does not match the pattern; ignored", "uid", uid, "pattern", apps[i].Pattern)
				}
			}
		}
	}
	switch {
	case s.wildcards > 0:
		st.Wildcards = "server"
	case s.wildcards < 0:
		st.Wildcards = "client"
	default:
		st.Wildcards = "probing"
		if err := s.learnWildcards(ctx, c, matched, st); err != nil {
			return err
		}
	}

	// 3. Candidates per application; Get only what a ring needs.
	cands := make([][]keyring.Candidate, len(apps))
	for _, uid := range uids {
		mm, ok := matched[uid]
		if !ok {
			continue
		}
		m := metas[uid]
		cands[mm.app] = append(cands[mm.app], keyring.Candidate{UID: uid, Name: mm.name, State: fromKMIPState(m.state),
			Activated: m.activation, Created: m.initial})
	}
	// Every poll retries what a ring still lacks: a refusal may be
	// transient (a KMS busy or restarting), and a ring behind the KMS
	// leaves the proxy encrypting with an older generation.
	var wanted []string
	for i, a := range apps {
		wanted = append(wanted, s.deps.Rings.Wanted(a.Name, cands[i])...)
	}
	var events []engine.Event
	now := s.deps.Now().UTC()
	event := func(uid, op string, sev engine.Severity, details string) {
		id := ""
		if k := s.known[uid]; k != nil {
			id = k.id
		}
		events = append(events, engine.Event{Time: now, KeyID: id, Source: s.cfg.Name, Operation: op, Actor: s.cfg.Name,
			Origin: engine.OriginSource, Severity: sev, Details: details})
	}
	// refuse notes that a ring could not take uid: the event (with why in
	// full) once, while the refusal stays the same (same, stable across
	// polls), and same in the poll's LeftOut, which the source health shows.
	refused := map[string]bool{}
	refuse := func(uid string, sev engine.Severity, why, same string) {
		refused[uid] = true
		st.LeftOut = append(st.LeftOut, matched[uid].name+": "+same)
		if k := s.known[uid]; k.refusal != same {
			k.refusal = same
			event(uid, engine.OpRefused, sev, why)
		}
	}
	pl := pollLog{st: st, event: event, refuse: refuse}
	// Inventory IDs first, so events can name keys.
	usedIDs := map[string]string{}
	for _, k := range s.known {
		usedIDs[k.id] = k.uid
	}
	for _, uid := range uids {
		mm, ok := matched[uid]
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
	material := map[string][]byte{}
	if len(wanted) > 0 {
		mats, gfail, err := s.getMaterial(ctx, c, wanted, st)
		if err != nil {
			return err
		}
		for _, uid := range slices.Sorted(maps.Keys(gfail)) {
			const what = "cannot fetch the key material: "
			refuse(uid, engine.SeverityWarn, what+gfail[uid].Error(), what+brief(gfail[uid]))
		}
		for _, uid := range slices.Sorted(maps.Keys(mats)) {
			m, k := mats[uid], s.known[uid]
			fp := keyring.Fingerprint(m)
			if k.fp != "" && k.fp != fp {
				clear(m)
				why := fmt.Sprintf("the key material under this identifier changed (fingerprint was %s, now %s); not used", short(k.fp), short(fp))
				refuse(uid, engine.SeverityAlert, why, why)
				continue
			}
			material[uid] = m
		}
	}
	defer func() {
		for _, m := range material {
			clear(m)
		}
	}()

	// 4. Update rings.
	for i, a := range apps {
		for j := range cands[i] {
			if m, ok := material[cands[i][j].UID]; ok {
				cands[i][j].Material = m
				delete(material, cands[i][j].UID)
			}
		}
		if err := s.updateRing(ctx, a.Name, cands[i], pl); err != nil {
			return err
		}
	}

	for _, uid := range wanted {
		if !refused[uid] {
			s.known[uid].refusal = ""
		}
	}
	for uid := range matched {
		if k := s.known[uid]; !refused[uid] && strings.HasPrefix(k.refusal, "left out") {
			k.refusal = "" // back in the ring's rule: a new refusal is news again
		}
	}

	// 5. Inventory rows and state events.
	fps := map[string]string{}
	for _, a := range apps {
		if r, ok := s.deps.Rings.Ring(a.Name); ok {
			for _, g := range r.Gens {
				fps[g.UID] = g.Fingerprint
			}
		}
	}
	var upserts []engine.Key
	seen := map[string]bool{}
	for _, uid := range uids {
		mm, ok := matched[uid]
		if !ok {
			continue
		}
		seen[uid] = true
		m, a, k := metas[uid], apps[mm.app], s.known[uid]
		if fp := fps[uid]; fp != "" {
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
			event(uid, op, sev, fmt.Sprintf("found in the KMS already %s (%s) for application %s: it never joins the ring", row.State, describe(row), a.Name))
		case k.row.ID == "":
			event(uid, engine.OpDiscovered, engine.SeverityInfo, fmt.Sprintf("found in the KMS (%s, %s) for application %s", row.State, describe(row), a.Name))
		case k.state != row.State:
			op, sev := stateOp(row.State)
			event(uid, op, sev, fmt.Sprintf("state %s → %s in the KMS", k.state, row.State))
		}
		k.state = row.State
		if !reflect.DeepEqual(k.row, row) {
			k.row = row
			row.Updated = now
			upserts = append(upserts, row)
		}
	}
	for _, uid := range slices.Sorted(maps.Keys(s.known)) {
		k := s.known[uid]
		if seen[uid] || k.row.ID == "" || k.state == engine.StateDestroyed {
			continue
		}
		row := k.row
		row.State = engine.StateDestroyed
		row.Destroyed = &now
		event(uid, engine.OpDestroyed, engine.SeverityAlert, "no longer found in the KMS (destroyed or deleted there, or renamed): treated as destroyed")
		k.state, k.row = row.State, row
		row.Updated = now
		upserts = append(upserts, row)
	}
	if len(upserts) > 0 || len(events) > 0 {
		if err := sink.Apply(ctx, sources.Batch{Source: s.cfg.Name, Upsert: upserts, Events: events}); err != nil {
			// Forget what was remembered so the next poll compares with
			// what the inventory really holds.
			s.known, s.loaded = map[string]*knownKey{}, false
			return fmt.Errorf("record the poll in the inventory: %w", err)
		}
	}
	if full {
		s.fullRefresh = st.Started
	}
	return nil
}

// fullDue says whether this poll reads every located object's Name and
// State again: the first, and then one every full_refresh.
func (s *Source) fullDue() bool {
	return s.fullRefresh.IsZero() || s.deps.Now().Sub(s.fullRefresh) >= time.Duration(s.cfg.FullRefresh)
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
