package kmip

import (
	"slices"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

// phaseSource is a source with two applications and no KMS: enough for
// the phases that only read and write the poll state.
func phaseSource(t *testing.T) *Source {
	t.Helper()
	s, err := New(config.KMIPSource{Name: "kms", Addresses: []string{"127.0.0.1:1"}, Applications: []config.Application{
		{Name: "crm", Pattern: "rks.crm.key.*", Generations: 4},
		{Name: "hr", Pattern: "rks.hr.*", Generations: 4},
	}}, Deps{Rings: keyring.NewRings()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMatchPhase: the match phase gives each located symmetric key the
// application whose pattern its name matches, never the key-encryption
// key, remembers the rest by name, and counts what a server-side Locate
// returned for an application whose pattern the name does not match.
func TestMatchPhase(t *testing.T) {
	s := phaseSource(t)
	s.kekUID = "u-kek"
	sym := kmip.ObjectTypeSymmetricKey
	p := &pollState{s: s, st: &PollStats{}, apps: s.cfg.Applications,
		uids: []string{"u1", "u2", "u3", "u4", "u5", "u-kek"},
		metas: map[string]*objectMeta{
			"u1":    {uid: "u1", names: []string{"rks.crm.key.1"}, objType: sym},
			"u2":    {uid: "u2", names: []string{"other", "rks.hr.a"}, objType: sym},
			"u3":    {uid: "u3", names: []string{"unrelated"}, objType: sym},
			"u4":    {uid: "u4", names: []string{"rks.crm.key.2"}, objType: kmip.ObjectTypePrivateKey},
			"u-kek": {uid: "u-kek", names: []string{"rks.crm.key.kek"}, objType: sym},
			// u5: no attributes could be read
		},
		// The KMS said u3 matched crm and u2 matched crm too.
		perApp: [][]string{{"u1", "u2", "u3"}, {"u2"}},
	}
	if err := p.match(); err != nil {
		t.Fatal(err)
	}
	want := map[string]appMatch{"u1": {app: 0, name: "rks.crm.key.1"}, "u2": {app: 1, name: "rks.hr.a"}}
	if len(p.matched) != len(want) {
		t.Fatalf("matched %v, want %v", p.matched, want)
	}
	for uid, m := range want {
		if p.matched[uid] != m {
			t.Errorf("matched[%s] = %+v, want %+v", uid, p.matched[uid], m)
		}
	}
	if p.st.Matched != 2 || p.st.Mismatched != 2 {
		t.Errorf("Matched %d Mismatched %d, want 2 and 2 (u2 and u3 under crm)", p.st.Matched, p.st.Mismatched)
	}
	// settle runs match again after a second Locate: nothing counts twice.
	if err := p.match(); err != nil {
		t.Fatal(err)
	}
	if p.st.Matched != 2 || p.st.Mismatched != 2 {
		t.Errorf("match run again: Matched %d Mismatched %d, want 2 and 2", p.st.Matched, p.st.Mismatched)
	}
	if s.others["u3"] != "unrelated" || s.others["u4"] != "rks.crm.key.2" || s.others["u-kek"] != "rks.crm.key.kek" {
		t.Errorf("others = %v", s.others)
	}
}

// TestSortReadsPhase: between full refreshes a new object is read in
// full, a watched known key (in a ring, or pre-active) by its State, an
// unwatched one not at all; at a full refresh every known object's Name
// and State are read.
func TestSortReadsPhase(t *testing.T) {
	s := phaseSource(t)
	row := func(name string) engine.Key { return engine.Key{ID: "kms/" + name, Name: name} }
	s.known = map[string]*knownKey{
		"pre":  {uid: "pre", id: "kms/pre", state: engine.StatePreActive, row: row("rks.crm.key.pre")},
		"old":  {uid: "old", id: "kms/old", state: engine.StateDeactivated, row: row("rks.crm.key.old")},
		"refd": {uid: "refd", id: "kms/refd", state: engine.StateActive, refusal: "x", row: row("rks.crm.key.r")},
	}
	s.others = map[string]string{"oth": "unrelated", "now": "rks.hr.now"}
	uids := []string{"new", "now", "old", "oth", "pre", "refd"}
	for _, full := range []bool{false, true} {
		p := &pollState{s: s, st: &PollStats{}, apps: s.cfg.Applications, uids: uids, full: full, metas: map[string]*objectMeta{}}
		fresh, light, stateOnly := p.sortReads(uids)
		slices.Sort(fresh)
		slices.Sort(light)
		slices.Sort(stateOnly)
		wantFresh, wantLight, wantState := []string{"new", "now"}, []string(nil), []string{"pre", "refd"}
		if full {
			wantFresh, wantLight, wantState = []string{"new"}, []string{"now", "old", "oth", "pre", "refd"}, nil
		}
		if !slices.Equal(fresh, wantFresh) || !slices.Equal(light, wantLight) || !slices.Equal(stateOnly, wantState) {
			t.Errorf("full=%v: fresh %v light %v state %v; want %v %v %v", full, fresh, light, stateOnly, wantFresh, wantLight, wantState)
		}
		if !full && (p.metas["old"] == nil || p.metas["oth"] == nil) {
			t.Errorf("not read, yet no meta from what is known: %v", p.metas)
		}
	}
}
