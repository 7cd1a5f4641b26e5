package vault

import (
	"errors"
	"fmt"
	"maps"
	"time"
)

// KeySpec describes a key put straight into the vault (behind any client's
// back), for seeding and for tests that change "the cloud".
type KeySpec struct {
	Name string
	// Type is EC (default, fast) or RSA.
	Type  string
	Curve string // default P-256
	Size  int    // RSA bits, default 2048
	// Versions is how many versions to create (default 1), one Every apart
	// starting at Created (default: now).
	Versions  int
	Created   time.Time
	Every     time.Duration
	Expires   *time.Time // of the newest version
	NotBefore *time.Time
	Disabled  bool
	Tags      map[string]string
	// RotateAfter sets a rotation policy (e.g. "P90D").
	RotateAfter string
}

// AddKey creates a key and its versions directly in the vault. Material is
// generated lazily, on the first request that needs it.
func (s *Server) AddKey(spec KeySpec) error {
	if !nameRE.MatchString(spec.Name) {
		return fmt.Errorf("vault emulator: invalid key name %q", spec.Name)
	}
	if spec.Type == "" {
		spec.Type = "EC"
	}
	if spec.Curve == "" && spec.Type == "EC" {
		spec.Curve = "P-256"
	}
	if spec.Size == 0 {
		spec.Size = 2048
	}
	if spec.Type == "EC" {
		spec.Size = curveSize(spec.Curve)
	}
	if spec.Versions <= 0 {
		spec.Versions = 1
	}
	if spec.Created.IsZero() {
		spec.Created = s.st.clock()
	}
	if spec.Every == 0 {
		spec.Every = 24 * time.Hour
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if _, ok := s.st.keys[spec.Name]; ok {
		return fmt.Errorf("vault emulator: key %q exists", spec.Name)
	}
	for i := 0; i < spec.Versions; i++ {
		at := spec.Created.Add(time.Duration(i) * spec.Every).UTC().Truncate(time.Second)
		v := &version{kty: spec.Type, curve: spec.Curve, size: spec.Size, enabled: true, created: at, updated: at, tags: maps.Clone(spec.Tags)}
		if i == spec.Versions-1 {
			v.enabled = !spec.Disabled
			v.expires, v.notBefore = trunc(spec.Expires), trunc(spec.NotBefore)
		}
		if _, err := s.st.addVersion(spec.Name, v); err != nil {
			return err
		}
	}
	if spec.RotateAfter != "" {
		if _, err := parseISODuration(spec.RotateAfter); err != nil {
			return err
		}
		now := s.st.clock()
		s.st.keys[spec.Name].policy = &policy{rotateAfter: spec.RotateAfter, notifyBefore: "P30D", created: now, updated: now}
	}
	return nil
}

func trunc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.UTC().Truncate(time.Second)
	return &c
}

var errNoKey = errors.New("vault emulator: no such live key")

// RotateKey adds a version to a live key, as the vault's own rotation would.
func (s *Server) RotateKey(name string) (string, error) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k, _ := s.st.live(name, "")
	if k == nil {
		return "", fmt.Errorf("%w: %s", errNoKey, name)
	}
	v, err := s.st.rotate(k)
	if err != nil {
		return "", err
	}
	return v.id, nil
}

// EditKey changes the current version of a live key in place ("" version)
// or a given version, and moves its updated time.
func (s *Server) EditKey(name, version string, edit func(enabled *bool, expires **time.Time, tags map[string]string)) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	_, v := s.st.live(name, version)
	if v == nil {
		return fmt.Errorf("%w: %s/%s", errNoKey, name, version)
	}
	if v.tags == nil {
		v.tags = map[string]string{}
	}
	edit(&v.enabled, &v.expires, v.tags)
	v.expires = trunc(v.expires)
	v.updated = s.st.clock()
	return nil
}

// DeleteKey soft-deletes a live key.
func (s *Server) DeleteKey(name string) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k, _ := s.st.live(name, "")
	if k == nil {
		return fmt.Errorf("%w: %s", errNoKey, name)
	}
	s.st.softDelete(k)
	return nil
}

// PurgeKey removes a soft-deleted key for good.
func (s *Server) PurgeKey(name string) error { return s.withDeleted(name, s.st.purge) }

// RecoverKey brings a soft-deleted key back.
func (s *Server) RecoverKey(name string) error { return s.withDeleted(name, s.st.recover) }

// withDeleted applies op to the soft-deleted key name under the lock (the
// back door's onDeleted).
func (s *Server) withDeleted(name string, op func(*key)) error {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k := s.st.keys[name]
	if k == nil || k.deleted == nil {
		return fmt.Errorf("vault emulator: %s is not soft-deleted", name)
	}
	op(k)
	return nil
}

// KeyCount returns the number of live and soft-deleted keys.
func (s *Server) KeyCount() (live, deleted int) {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	for _, k := range s.st.keys {
		if k.deleted != nil {
			deleted++
		} else {
			live++
		}
	}
	return live, deleted
}

// Versions returns the version ids of a live key, oldest first.
func (s *Server) Versions(name string) []string {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	k, _ := s.st.live(name, "")
	if k == nil {
		return nil
	}
	var out []string
	for _, v := range k.versions {
		out = append(out, v.id)
	}
	return out
}

// SeedBulk adds n EC keys named prefix-00000.. with versions each, created
// long ago (so they count as unchanged for later syncs).
func (s *Server) SeedBulk(prefix string, n, versions int) error {
	base := s.st.clock().Add(-400 * 24 * time.Hour)
	for i := 0; i < n; i++ {
		if err := s.AddKey(KeySpec{Name: fmt.Sprintf("%s-%05d", prefix, i), Versions: versions, Created: base.Add(time.Duration(i) * time.Minute), Every: 90 * 24 * time.Hour,
			Tags: map[string]string{"bulk": "yes"}}); err != nil {
			return err
		}
	}
	return nil
}

// SeedDemo fills the vault with the demo's keys of every age, relative to
// now: healthy, expiring soon, expired, past their rotation date, disabled,
// not yet active, and soft-deleted with a purge due. Names follow the
// acme-<application>-<purpose> pattern (Azure key names allow only letters,
// digits and dashes). It returns the number of keys added.
func (s *Server) SeedDemo(now time.Time) (int, error) {
	day := 24 * time.Hour
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	specs := []KeySpec{
		{Name: "acme-payments-card-kek", Type: "RSA", Size: 3072, Versions: 3, Created: now.Add(-300 * day), Every: 90 * day, Expires: at(300 * day), RotateAfter: "P90D",
			Tags: map[string]string{"application": "payments", "owner": "card-team"}},
		{Name: "acme-payments-tokenization", Versions: 2, Created: now.Add(-200 * day), Every: 120 * day, Expires: at(5 * day),
			Tags: map[string]string{"application": "payments"}},
		{Name: "acme-payments-settlement", Versions: 1, Created: now.Add(-500 * day), Expires: at(-12 * day),
			Tags: map[string]string{"application": "payments", "note": "expired"}},
		{Name: "acme-payments-legacy-signing", Type: "RSA", Size: 2048, Versions: 1, Created: now.Add(-800 * day), Expires: at(400 * day),
			Tags: map[string]string{"application": "payments", "note": "rotation overdue"}},
		{Name: "acme-payments-archive", Versions: 2, Created: now.Add(-600 * day), Every: 200 * day, Disabled: true,
			Tags: map[string]string{"application": "payments", "note": "disabled"}},
		{Name: "acme-payments-next-kek", Curve: "P-384", Versions: 1, Created: now.Add(-2 * day), NotBefore: at(14 * day), Expires: at(380 * day),
			Tags: map[string]string{"application": "payments", "note": "not yet active"}},
		{Name: "acme-crm-field-kek", Curve: "P-384", Versions: 4, Created: now.Add(-360 * day), Every: 90 * day, Expires: at(25 * day),
			Tags: map[string]string{"application": "crm"}},
		{Name: "acme-crm-export-signing", Versions: 1, Created: now.Add(-40 * day), Expires: at(80 * day),
			Tags: map[string]string{"application": "crm"}},
		{Name: "acme-hr-payroll-kek", Curve: "P-521", Versions: 2, Created: now.Add(-420 * day), Every: 365 * day, Expires: at(200 * day),
			Tags: map[string]string{"application": "hr"}},
		{Name: "acme-payments-old-batch", Versions: 1, Created: now.Add(-700 * day), Expires: at(-100 * day),
			Tags: map[string]string{"application": "payments", "note": "soft-deleted, purge due"}},
		{Name: "acme-crm-retired-kek", Versions: 2, Created: now.Add(-900 * day), Every: 365 * day,
			Tags: map[string]string{"application": "crm", "note": "soft-deleted"}},
	}
	for _, sp := range specs {
		if err := s.AddKey(sp); err != nil {
			return 0, err
		}
	}
	// Soft-deleted keys: one whose purge is due in two days, one recent.
	s.st.mu.Lock()
	for name, deletedAgo := range map[string]time.Duration{"acme-payments-old-batch": 88 * day, "acme-crm-retired-kek": 10 * day} {
		k := s.st.keys[name]
		d := now.Add(-deletedAgo).UTC().Truncate(time.Second)
		p := d.Add(s.st.retention)
		k.deleted, k.purgeAt = &d, &p
	}
	s.st.gen++
	s.st.mu.Unlock()
	return len(specs), nil
}

// Geography is the region group the emulated vault reports (Options).
func (s *Server) Geography() string { return s.opts.Geography }
