package cloud

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/engine"
)

// SealedStore keeps wrapped blobs in the keyward database
// (*store.Store implements it).
type SealedStore interface {
	PutSealed(ctx context.Context, kind, name string, blob []byte) error
	Sealed(ctx context.Context, kind string) (map[string][]byte, error)
	DeleteSealed(ctx context.Context, kind, name string) error
	// DeleteSealedRecorded deletes blobs and records events in one
	// transaction (both or neither, whatever stops the process).
	DeleteSealedRecorded(ctx context.Context, kind string, names []string, events ...engine.Event) ([]engine.Event, error)
}

// Wrapper seals blobs under the key-encryption key (*kek.KEK implements it).
type Wrapper interface {
	Wrap(plaintext, aad []byte) ([]byte, error)
	Unwrap(blob, aad []byte) ([]byte, error)
}

// MaterialFunc returns a copy of the newest active generation of an
// application's ring on a KMIP source, with its inventory ID. The caller
// zeroes the copy. The daemon wires it to its KMIP rings.
type MaterialFunc func(ctx context.Context, source, application string) (keyID string, material []byte, err error)

// BackupKind is the sealed-blob kind cloud backups are stored under.
const BackupKind = "cloud-backup"

// Manager runs the life-cycle operations on cloud sources, each recorded
// as an activity event with the caller, and keeps vault backups wrapped
// under the key-encryption key. Who may run which operation is decided
// before it is called (the socket API's route table), not here.
type Manager struct {
	mu       sync.RWMutex
	sources  map[string]*SyncSource
	order    []string
	store    SealedStore
	kek      Wrapper
	material MaterialFunc
	bidx     backupIndex
	// uploading holds the pending copies of this manager's uploads under
	// way: ResolvePending leaves them alone.
	uploading map[string]bool
	// resolving serialises ResolvePending (start and listings); noted
	// holds the pending copies whose warning was recorded already.
	resolving sync.Mutex
	noted     map[string]bool
	// Now is the clock (tests pin it).
	Now func() time.Time
	// AfterImport, when set (by tests only), runs between an upload's
	// import and keeping its backup; an error stops the upload there, as
	// a crash would.
	AfterImport func(source, name string) error
}

// NewManager returns a manager of the given cloud sources. store and kek
// may be nil when backups are not configured (backup then refuses with a
// clear error).
func NewManager(store SealedStore, kek Wrapper, srcs ...*SyncSource) *Manager {
	m := &Manager{sources: map[string]*SyncSource{}, store: store, kek: kek, Now: time.Now}
	for _, s := range srcs {
		m.Add(s)
	}
	return m
}

// Add registers a cloud source.
func (m *Manager) Add(s *SyncSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.sources[s.Name()]; !ok {
		m.order = append(m.order, s.Name())
	}
	m.sources[s.Name()] = s
	if _, ok := s.Connector().(MaterialKeeper); ok {
		s.annotate = func(k *engine.Key) { m.noKeptCopy(s.Name(), s.Kind(), k) }
	}
}

// noKeptCopy marks k, a key of a source whose cloud exports nothing
// (MaterialKeeper), as one keyward cannot back up when it holds no copy
// of its material kept at upload: its backup is that copy, and front ends
// then leave the backup out and say why before anyone confirms it. A key
// its connector marks already (generated in the cloud) keeps that reason;
// a store keyward cannot read leaves k as it is (the backup then says).
func (m *Manager) noKeptCopy(source, kind string, k *engine.Key) {
	if k.Unsupported(engine.CapBackup) != "" {
		return
	}
	held := false
	err := m.indexed(context.Background(), func(ix *backupIndex) error {
		held = len(ix.byKey[keyOf(source, k.Name)]) > 0
		return nil
	})
	if held || (err != nil && !errors.Is(err, errNoBackups)) {
		return
	}
	if k.Tags == nil {
		k.Tags = map[string]string{}
	}
	k.Tags[engine.TagUnsupported+engine.CapBackup] = NoKeptCopy(kind, err == nil)
}

// NoKeptCopy is why an imported key of a cloud of kind that exports
// nothing cannot be backed up when keyward holds no copy of its material
// (kekSet: keyward keeps copies at all, keys.kek_file being set).
func NoKeptCopy(kind string, kekSet bool) string {
	if !kekSet {
		return fmt.Sprintf("not supported: %s cannot export key material, and keyward keeps no copy of what it uploads without keys.kek_file", strings.ToUpper(kind))
	}
	return fmt.Sprintf("not supported: %s cannot export key material, and keyward holds no copy of this key's material (it keeps one only of what it uploads itself)", strings.ToUpper(kind))
}

// SetBackups gives the manager the store and key-encryption key for
// backups, when they exist only after the manager was built (the daemon
// opens its store inside Run).
func (m *Manager) SetBackups(store SealedStore, kek Wrapper) {
	m.mu.Lock()
	m.store, m.kek = store, kek
	m.mu.Unlock()
	m.bidx.reset()
}

func (m *Manager) backups() (SealedStore, Wrapper) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.store, m.kek
}

// SetMaterial wires key upload from KMIP rings.
func (m *Manager) SetMaterial(f MaterialFunc) { m.mu.Lock(); m.material = f; m.mu.Unlock() }

// Sources describes the cloud sources and their capabilities.
func (m *Manager) Sources() []SourceInfo {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []SourceInfo
	for _, n := range m.order {
		s, ok := m.sources[n]
		if !ok {
			continue
		}
		c := s.Connector()
		info := SourceInfo{Name: n, Kind: c.Kind(), Address: c.Address(), Geography: c.Geography(), Capabilities: c.Capabilities()}
		if sl, ok := c.(SpecLister); ok {
			info.Creates = sl.CreateSpecs()
		}
		if ol, ok := c.(OptionLister); ok {
			info.Options = ol.CreateOptions()
		}
		if pm, ok := c.(PrimaryMaker); ok && info.Capabilities.Has(engine.CapVersionPrimary) {
			info.PrimaryTag = pm.PrimaryTag()
		}
		out = append(out, info)
	}
	return out
}

func (m *Manager) source(name string, capability string) (*SyncSource, error) {
	m.mu.RLock()
	s, ok := m.sources[name]
	m.mu.RUnlock()
	if !ok {
		return nil, &Error{Kind: ErrNotFound, Reason: fmt.Sprintf("no cloud source named %q (keyward status lists the sources)", name)}
	}
	if capability != "" && !s.Connector().Capabilities().Has(capability) {
		return nil, &Error{Kind: ErrUnsupported, Reason: fmt.Sprintf("%s source %q cannot %s", s.Kind(), name, capability)}
	}
	return s, nil
}

// recorded records an operation done through keyward on the key called
// name (SyncSource.record) and answers with the key's rows and ev.
func (m *Manager) recorded(ctx context.Context, s *SyncSource, name string, deleted *KeyVersion, purged bool, ev engine.Event) (*KeyResult, error) {
	return m.recordedRecovered(ctx, s, name, deleted, purged, ev, "")
}

// recordedRecovered is recorded for an operation whose answer the vault
// lost after doing the work: recovered, what keyward found it had done
// (KeyVersion.Recovered), is said in the event's details and in the
// result, so the administrator reads that it was done once.
func (m *Manager) recordedRecovered(ctx context.Context, s *SyncSource, name string, deleted *KeyVersion, purged bool, ev engine.Event, recovered string) (*KeyResult, error) {
	if recovered != "" {
		ev.Details += " (" + recovered + ")"
	}
	rows, ev, err := s.record(ctx, name, deleted, purged, ev)
	if err != nil {
		return nil, err
	}
	res := m.result(rows, ev)
	res.Recovered = recovered
	return res, nil
}

func actor(c Caller) string {
	if c.User != "" {
		return c.User
	}
	return fmt.Sprintf("uid:%d", c.UID)
}

func (m *Manager) event(c Caller, op string, sev engine.Severity, details string) engine.Event {
	return engine.Event{Time: m.Now().UTC(), Operation: op, Actor: actor(c), Origin: engine.OriginKeyward, Severity: sev, Details: details}
}

func (m *Manager) result(rows []engine.Key, ev engine.Event) *KeyResult {
	return &KeyResult{Keys: rows, Event: &ev}
}

// Create generates a key inside the vault.
func (m *Manager) Create(ctx context.Context, caller Caller, source string, r CreateRequest) (*KeyResult, error) {
	s, err := m.dated(source, engine.CapCreate, "create "+r.Name, r.Expires, r.NotBefore)
	if err != nil {
		return nil, err
	}
	if err := checkTags("create "+r.Name, r.Tags); err != nil {
		return nil, err
	}
	if sc, ok := s.Connector().(SpecChecker); ok {
		if err := checkNewName(s.Connector(), r.Name); err != nil {
			return nil, err
		}
		if err := sc.CheckSpec(r); err != nil {
			return nil, err
		}
	} else if err := checkKeySpec(r.Name, r.Type, r.Size, r.Curve); err != nil {
		return nil, err
	}
	if _, err := s.Connector().Get(ctx, r.Name, ""); err == nil {
		return nil, &Error{Kind: ErrConflict, Op: "create " + r.Name,
			Reason: fmt.Sprintf("key %s already exists in %s (rotate it to add a version, or upload to import a new one)", r.Name, source)}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("create %s in %s: %w", r.Name, source, err)
	}
	r.Type = strings.ToUpper(r.Type)
	kv, err := s.Connector().Create(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("create %s in %s: %w", r.Name, source, err)
	}
	ev := m.event(caller, engine.OpCreated, engine.SeverityInfo, fmt.Sprintf("created %s in %s via keyward", describe(kv), source))
	return m.recordedRecovered(ctx, s, cmp.Or(kv.Name, r.Name), nil, false, ev, kv.Recovered)
}

// dated is the source for op, an operation that may set a key's expiry
// or activation date, once the source offers capability; a date given to
// a source whose keys have none (no engine.CapDates) is refused before any
// request, in the words the front ends use. An upload's expiry is the
// material's where the source's imported material expires
// (engine.CapMaterialExpiry: AWS).
func (m *Manager) dated(source, capability, op string, expires, notBefore *time.Time) (*SyncSource, error) {
	s, err := m.source(source, capability)
	if err != nil {
		return nil, err
	}
	caps := s.Connector().Capabilities()
	if (expires == nil && notBefore == nil) || caps.Has(engine.CapDates) {
		return s, nil
	}
	if capability == engine.CapUpload && notBefore == nil && caps.Has(engine.CapMaterialExpiry) {
		return s, nil
	}
	return nil, &Error{Kind: ErrUnsupported, Op: op, Reason: engine.NoDates(s.Name())}
}

// Upload imports a key generated here (or a KMIP ring's newest generation)
// into the vault and tags it with where it came from.
func (m *Manager) Upload(ctx context.Context, caller Caller, source string, r UploadRequest) (*KeyResult, error) {
	s, err := m.dated(source, engine.CapUpload, "upload "+r.Name, r.Expires, r.NotBefore)
	if err != nil {
		return nil, err
	}
	if err := checkNewName(s.Connector(), r.Name); err != nil {
		return nil, err
	}
	if err := checkTags("upload "+r.Name, r.Tags); err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for k, v := range r.Tags {
		tags[k] = v
	}
	ir := ImportRequest{Name: r.Name, NotBefore: r.NotBefore, Expires: r.Expires, Tags: tags}
	var origin string
	fromRing := r.FromSource != "" || r.FromApplication != ""
	symmetricOK := func() error {
		if !s.Connector().Capabilities().Has(engine.CapUploadOct) {
			return fmt.Errorf("upload %s: %w: %s source %q cannot import symmetric keys (Azure needs a Managed HSM for that)", r.Name, ErrUnsupported, s.Kind(), source)
		}
		return nil
	}
	switch {
	case r.Material != nil:
		defer clear(r.Material)
		if fromRing {
			return nil, fmt.Errorf("upload %s: %w: give a key file or a KMIP ring (--from-source, --from-app), not both", r.Name, ErrInvalid)
		}
		priv, sym, err := ParseMaterial(r.Material)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", r.Name, err)
		}
		if sym != nil {
			defer clear(sym)
			if err := symmetricOK(); err != nil {
				return nil, err
			}
			ir.Symmetric = sym
		} else {
			defer zeroPrivate(priv)
			ir.Private = priv
		}
		origin = "from a key file"
	case fromRing:
		if err := symmetricOK(); err != nil {
			return nil, err
		}
		m.mu.RLock()
		mat := m.material
		m.mu.RUnlock()
		if mat == nil || r.FromSource == "" || r.FromApplication == "" {
			return nil, fmt.Errorf("upload %s: %w: name a KMIP source and application (--from-source, --from-app)", r.Name, ErrInvalid)
		}
		id, key, err := mat(ctx, r.FromSource, r.FromApplication)
		if err != nil {
			return nil, fmt.Errorf("upload %s: take key from %s/%s: %w", r.Name, r.FromSource, r.FromApplication, err)
		}
		defer clear(key)
		ir.Symmetric = key
		tags[TagLinkedTo] = id
		tags[TagApplication] = r.FromApplication
		origin = "from " + id
	default:
		if err := checkKeySpec(r.Name, r.Type, r.Size, r.Curve); err != nil {
			return nil, err
		}
		priv, err := generate(r.Type, r.Size, r.Curve)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", r.Name, err)
		}
		defer zeroPrivate(priv)
		ir.Private = priv
		origin = "generated locally by keyward"
	}
	// The cloud cannot export what it imports: keyward's copy is sealed
	// before the import, so a crash between the import and keeping the
	// backup leaves a pending copy (ResolvePending), never material in
	// the cloud alone.
	keeper, keeps := s.Connector().(MaterialKeeper)
	var pending string
	if keeps {
		if pending, err = m.holdPending(ctx, caller, source, s.Connector(), ir); err != nil {
			return nil, fmt.Errorf("upload %s: %w (nothing was sent to %s)", r.Name, err, source)
		}
		defer m.settled(pending)
	}
	kv, err := s.Connector().Import(ctx, ir)
	if err != nil {
		if derr := m.dropPending(ctx, pending); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the pending copy %s: %w", pending, derr))
		}
		return nil, fmt.Errorf("upload %s to %s: %w", r.Name, source, err)
	}
	if m.AfterImport != nil {
		if err := m.AfterImport(source, r.Name); err != nil {
			return nil, err
		}
	}
	details := fmt.Sprintf("uploaded %s (%s) to %s", describe(kv), origin, source)
	if keeps {
		details += "; " + m.keep(ctx, caller, source, s.Connector(), keeper, kv, ir, pending)
	}
	ev := m.event(caller, engine.OpUploaded, engine.SeverityInfo, details)
	// The connector's name for the key (a Google key's location/ring/key)
	// is the one its listing uses.
	return m.recordedRecovered(ctx, s, cmp.Or(kv.Name, r.Name), nil, false, ev, kv.Recovered)
}

// keep stores the material just imported as the key's backup, for clouds
// that cannot export keys, and says what it did (for the upload's event).
// The key is in the cloud whatever happens here: a failure to keep the
// copy is reported, not undone.
//
// pending is the copy sealed before the import: dropped once the backup
// is stored; kept (listed by Backups) when it could not be.
func (m *Manager) keep(ctx context.Context, caller Caller, source string, conn Connector, keeper MaterialKeeper, kv KeyVersion, ir ImportRequest, pending string) string {
	store, kek := m.backups()
	if store == nil || kek == nil {
		return "no backup kept: keys.kek_file is not set, and " + conn.Kind() + " cannot export the key"
	}
	blob, err := keeper.KeepMaterial(kv, ir)
	if err != nil {
		return "no backup kept: " + err.Error()
	}
	defer clear(blob)
	info, err := m.sealBackup(ctx, caller, source, conn, kv.Name, 1, blob)
	if err != nil {
		if pending != "" {
			return "no backup kept: " + err.Error() + "; the material stays sealed as pending upload copy " + pending + " (keyward key backups)"
		}
		return "no backup kept: " + err.Error()
	}
	if err := m.dropPending(ctx, pending); err != nil {
		return "keyward keeps its sealed copy of the material as backup " + info.ID + " (the pending upload copy " + pending + " stays until the next listing: " + err.Error() + ")"
	}
	return "keyward keeps its sealed copy of the material as backup " + info.ID
}

// Rotate creates a new version of a key.
func (m *Manager) Rotate(ctx context.Context, caller Caller, source, name string) (*KeyResult, error) {
	return m.onKey(ctx, caller, source, engine.CapRotate, "rotate", name, nil, func(c Connector) (change, error) {
		kv, err := c.Rotate(ctx, name)
		return change{op: engine.OpRotated, severity: engine.SeverityInfo, details: "rotated via keyward: new version " + kv.Version, keyID: keyID(source, name, kv), recovered: kv.Recovered}, err
	})
}

// change is what an operation through keyward changed of a key, for the
// event that records it.
type change struct {
	op       string // engine.Op*
	severity engine.Severity
	details  string
	keyID    string      // what the event names (else the key's last row)
	deleted  *KeyVersion // the key as soft-deleted
	purged   bool        // the key is gone
	// recovered: the vault's answer was lost and keyward found the
	// operation done (KeyVersion.Recovered).
	recovered string
}

// onKey is apply for verb, an operation on the key name of source, once
// the source offers capability and, for a destructive operation (typed
// not nil), the caller typed the key's name again.
func (m *Manager) onKey(ctx context.Context, caller Caller, source, capability, verb, name string, typed *string, do func(Connector) (change, error)) (*KeyResult, error) {
	var s *SyncSource
	var err error
	if typed != nil {
		s, err = m.confirmed(source, capability, verb, name, *typed)
	} else {
		s, err = m.source(source, capability)
	}
	if err != nil {
		return nil, err
	}
	return m.apply(ctx, caller, s, verb+" "+name, name, do)
}

// apply calls the cloud (do) for what, an operation on the key name of s,
// and records the change it made as done by caller. do's error is wrapped
// as "<what> in <source>".
func (m *Manager) apply(ctx context.Context, caller Caller, s *SyncSource, what, name string, do func(Connector) (change, error)) (*KeyResult, error) {
	c, err := do(s.Connector())
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", what, s.Name(), err)
	}
	ev := m.event(caller, c.op, c.severity, c.details)
	ev.KeyID = c.keyID
	return m.recordedRecovered(ctx, s, name, c.deleted, c.purged, ev, c.recovered)
}

// Update edits a version's attributes (enable/disable, dates, tags). Each
// part asks the capability it needs: enabling or disabling one version
// (a version named) is engine.CapVersionEnable, the rest engine.CapUpdate.
func (m *Manager) Update(ctx context.Context, caller Caller, source, name string, r UpdateRequest) (*KeyResult, error) {
	s, err := m.updater(source, name, r)
	if err != nil {
		return nil, err
	}
	if err := checkTags("update "+name, r.Tags); err != nil {
		return nil, err
	}
	if r.Enabled == nil && r.Expires == nil && r.NotBefore == nil && r.Tags == nil {
		return nil, fmt.Errorf("update %s: %w: nothing to change (give enabled, expires, not-before or tags)", name, ErrInvalid)
	}
	if r.Expires != nil && r.NotBefore != nil && !r.Expires.After(*r.NotBefore) {
		return nil, fmt.Errorf("update %s: %w: expiry %s is not after not-before %s", name, ErrInvalid, r.Expires.Format(time.RFC3339), r.NotBefore.Format(time.RFC3339))
	}
	kv, err := s.Connector().Update(ctx, name, r.Version, Update{Enabled: r.Enabled, Expires: r.Expires, NotBefore: r.NotBefore, Tags: r.Tags})
	if err != nil {
		return nil, fmt.Errorf("update %s in %s: %w", name, source, err)
	}
	op, what := engine.OpEdited, []string{}
	if r.Enabled != nil {
		if *r.Enabled {
			op = engine.OpEnabled
		} else {
			op = engine.OpDisabled
		}
	}
	if r.Expires != nil {
		what = append(what, "expiry "+r.Expires.UTC().Format(time.RFC3339))
	}
	if r.NotBefore != nil {
		what = append(what, "not-before "+r.NotBefore.UTC().Format(time.RFC3339))
	}
	if r.Tags != nil {
		what = append(what, engine.Plural(len(r.Tags), "tag"))
	}
	details := op + " via keyward"
	if len(what) > 0 {
		details += ": " + strings.Join(what, ", ")
	}
	ev := m.event(caller, op, engine.SeverityInfo, details)
	ev.KeyID = keyID(source, name, kv)
	return m.recorded(ctx, s, name, nil, false, ev)
}

// updater is the source for Update once it offers what r asks.
func (m *Manager) updater(source, name string, r UpdateRequest) (*SyncSource, error) {
	op := "update " + name
	versionToggle := r.Version != "" && r.Enabled != nil
	if !versionToggle || r.Expires != nil || r.NotBefore != nil || r.Tags != nil {
		s, err := m.dated(source, engine.CapUpdate, op, r.Expires, r.NotBefore)
		if err != nil || !versionToggle {
			return s, err
		}
	}
	s, err := m.source(source, "")
	if err != nil {
		return nil, err
	}
	if !s.Connector().Capabilities().Has(engine.CapVersionEnable) {
		return nil, &Error{Kind: ErrUnsupported, Op: op + " version " + r.Version,
			Reason: fmt.Sprintf("%s source %q enables and disables whole keys, not single versions (leave out the version)", s.Kind(), source)}
	}
	return s, nil
}

// keyID is the inventory id of the version kv of the key an operation
// named name: the cloud's own name for it when it has one (an AWS key
// named by an alias is listed, and kept, by its key ID).
func keyID(source, name string, kv KeyVersion) string {
	return engine.KeyID(source, cmp.Or(kv.Name, name), kv.Version)
}

func confirm(op, name, typed string) error {
	if typed != name {
		return fmt.Errorf("%s %s: %w: type the key's name again to confirm (got %q)", op, name, ErrInvalid, typed)
	}
	return nil
}

// confirmed is the source for op, a destructive operation on the key
// name, once the source offers it (capability) and the caller typed the
// key's name again.
func (m *Manager) confirmed(source, capability, op, name, typed string) (*SyncSource, error) {
	s, err := m.source(source, capability)
	if err != nil {
		return nil, err
	}
	if err := confirm(op, name, typed); err != nil {
		return nil, err
	}
	return s, nil
}

// Delete soft-deletes a key; confirmName must repeat the key's name.
func (m *Manager) Delete(ctx context.Context, caller Caller, source, name, confirmName string) (*KeyResult, error) {
	return m.onKey(ctx, caller, source, engine.CapDelete, "delete", name, &confirmName, func(c Connector) (change, error) {
		kv, err := c.Delete(ctx, name)
		if kv.Deleted == nil {
			now := m.Now().UTC()
			kv.Deleted = &now
		}
		return change{op: engine.OpDeleted, severity: engine.SeverityWarn, details: "soft-deleted via keyward" + purgeNote(kv), deleted: &kv, recovered: kv.Recovered}, err
	})
}

// Recover brings a soft-deleted key back.
func (m *Manager) Recover(ctx context.Context, caller Caller, source, name string) (*KeyResult, error) {
	return m.onKey(ctx, caller, source, engine.CapRecover, "recover", name, nil, func(c Connector) (change, error) {
		kv, err := c.Recover(ctx, name)
		return change{op: engine.OpRecovered, severity: engine.SeverityInfo, details: "recovered via keyward", recovered: kv.Recovered}, err
	})
}

// Purge destroys a soft-deleted key for good; confirmName must repeat the
// key's name.
func (m *Manager) Purge(ctx context.Context, caller Caller, source, name, confirmName string) (*KeyResult, error) {
	return m.onKey(ctx, caller, source, engine.CapPurge, "purge", name, &confirmName, func(c Connector) (change, error) {
		return change{op: engine.OpPurged, severity: engine.SeverityAlert, details: "purged via keyward: the key material is gone unless a backup exists", purged: true}, c.Purge(ctx, name)
	})
}

// DeleteMaterial deletes a key's imported material; confirmName must
// repeat the key's name. The key stays, unusable until the same material
// is imported again (keyward key restore of the copy kept at upload).
func (m *Manager) DeleteMaterial(ctx context.Context, caller Caller, source, name, confirmName string) (*KeyResult, error) {
	s, err := m.confirmed(source, engine.CapDeleteMaterial, "delete the material of", name, confirmName)
	if err != nil {
		return nil, err
	}
	d, ok := s.Connector().(MaterialDeleter)
	if !ok {
		return nil, fmt.Errorf("delete the material of %s: %w: %s source %q declares the capability without the operation", name, ErrUnsupported, s.Kind(), source)
	}
	return m.apply(ctx, caller, s, "delete the material of "+name, name, func(Connector) (change, error) {
		if _, err := d.DeleteMaterial(ctx, name); err != nil {
			return change{}, err
		}
		note := "no copy is kept in keyward: only the same material brings the key back"
		if info, err := m.kept(ctx, caller, s, name); err == nil && info != nil {
			note = "keyward key restore " + info.ID + " imports it again"
		}
		return change{op: engine.OpEdited, severity: engine.SeverityWarn, details: "imported key material deleted via keyward; the key is unusable until it is imported again (" + note + ")"}, nil
	})
}

// RotationPolicy shows a key's rotation policy.
func (m *Manager) RotationPolicy(ctx context.Context, source, name string) (*RotationPolicy, error) {
	s, err := m.source(source, engine.CapRotationPolicy)
	if err != nil {
		return nil, err
	}
	p, err := s.Connector().RotationPolicy(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("rotation policy of %s in %s: %w", name, source, err)
	}
	return &p, nil
}

// SetRotationPolicy replaces a key's rotation policy.
func (m *Manager) SetRotationPolicy(ctx context.Context, caller Caller, source, name string, p RotationPolicy) (*RotationPolicy, error) {
	s, err := m.source(source, engine.CapRotationPolicy)
	if err != nil {
		return nil, err
	}
	if p.RotateAfter < 0 || p.RotateBeforeExpiry < 0 || p.ExpireAfter < 0 || p.NotifyBefore < 0 {
		return nil, fmt.Errorf("rotation policy of %s: %w: durations must not be negative", name, ErrInvalid)
	}
	if p.RotateAfter > 0 && p.RotateBeforeExpiry > 0 {
		return nil, fmt.Errorf("rotation policy of %s: %w: give rotate-after or rotate-before-expiry, not both", name, ErrInvalid)
	}
	if p.RotateBeforeExpiry > 0 && p.ExpireAfter == 0 {
		return nil, fmt.Errorf("rotation policy of %s: %w: rotate-before-expiry needs expire-after", name, ErrInvalid)
	}
	got, err := s.Connector().SetRotationPolicy(ctx, name, p)
	if err != nil {
		return nil, fmt.Errorf("set rotation policy of %s in %s: %w", name, source, err)
	}
	ev := m.event(caller, engine.OpEdited, engine.SeverityInfo, "rotation policy set via keyward: "+policyText(got))
	if _, _, err := s.record(ctx, name, nil, false, ev); err != nil {
		return nil, err
	}
	return &got, nil
}

func policyText(p RotationPolicy) string {
	var parts []string
	add := func(label string, d engine.Duration) {
		if d > 0 {
			parts = append(parts, label+" "+d.String())
		}
	}
	add("rotate after", p.RotateAfter)
	add("rotate before expiry", p.RotateBeforeExpiry)
	add("expire after", p.ExpireAfter)
	add("notify before", p.NotifyBefore)
	if len(parts) == 0 {
		return "no automatic rotation"
	}
	return strings.Join(parts, ", ")
}

// backupRecord is what is sealed under the KEK for one backup.
type backupRecord struct {
	Info BackupInfo `json:"info"`
	Blob []byte     `json:"blob"`
}

func backupAAD(id string) []byte { return []byte("keyward cloud backup\x00" + id) }

// Backup takes the vault's backup of a key and stores it wrapped under the
// key-encryption key.
func (m *Manager) Backup(ctx context.Context, caller Caller, source, name string) (*BackupInfo, error) {
	store, kek := m.backups()
	s, err := m.source(source, engine.CapBackup)
	if err != nil {
		return nil, err
	}
	if store == nil || kek == nil {
		return nil, fmt.Errorf("back up %s: %w: backups need keys.kek_file in keyward.toml", name, ErrUnsupported)
	}
	conn := s.Connector()
	if _, ok := conn.(MaterialKeeper); ok {
		// The cloud exports nothing: the backup is the copy kept at
		// upload, if keyward uploaded the key.
		if info, err := m.kept(ctx, caller, s, name); info != nil || err != nil {
			return info, err
		}
	}
	blob, err := conn.Backup(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("back up %s in %s: %w", name, source, err)
	}
	defer clear(blob)
	versions := 0
	if vs, err := conn.Versions(ctx, name); err == nil {
		versions = len(vs)
	}
	info, err := m.sealBackup(ctx, caller, source, conn, name, versions, blob)
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", name, err)
	}
	ev := m.event(caller, engine.OpBackedUp, engine.SeverityInfo, fmt.Sprintf("backup %s stored in keyward (%d versions, %d bytes)", info.ID, versions, len(blob)))
	if _, _, err := s.record(ctx, name, nil, false, ev); err != nil {
		return nil, err
	}
	return info, nil
}

// kept is the newest backup kept at upload of the key name in s (nil if
// keyward holds none).
func (m *Manager) kept(ctx context.Context, caller Caller, s *SyncSource, name string) (*BackupInfo, error) {
	kv, err := s.Connector().Get(ctx, name, "")
	if err != nil {
		return nil, fmt.Errorf("back up %s in %s: %w", name, s.Name(), err)
	}
	mine, err := m.BackupsOf(ctx, s.Name(), kv.Name)
	if err != nil {
		return nil, fmt.Errorf("back up %s: %w", name, err)
	}
	if len(mine) > 0 { // newest first
		return &mine[0], nil
	}
	return nil, nil
}

// sealBackup stores blob, a backup of the key name, wrapped under the KEK.
func (m *Manager) sealBackup(ctx context.Context, caller Caller, source string, conn Connector, name string, versions int, blob []byte) (*BackupInfo, error) {
	store, kek := m.backups()
	now := m.Now().UTC()
	id := newBackupID(now)
	info := BackupInfo{ID: id, Source: source, Kind: conn.Kind(), Geography: conn.Geography(), Key: name,
		Versions: versions, Created: now, Size: len(blob), Actor: actor(caller)}
	plain, err := json.Marshal(backupRecord{Info: info, Blob: blob})
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	sealed, err := kek.Wrap(plain, backupAAD(id))
	if err != nil {
		return nil, fmt.Errorf("seal under the KEK: %w", err)
	}
	m.bidx.mu.Lock()
	defer m.bidx.mu.Unlock()
	if err := store.PutSealed(ctx, BackupKind, id, sealed); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	m.bidx.add(info, sha256.Sum256(blob))
	return &info, nil
}

// newBackupID names a stored backup (or pending upload copy) made at now.
func newBackupID(now time.Time) string {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	return now.Format("20060102T150405Z") + "-" + hex.EncodeToString(rnd[:])
}

func openBackup(kek Wrapper, id string, sealed []byte) (*backupRecord, error) {
	return openSealed[backupRecord](kek, "backup", id, backupAAD(id), sealed)
}

// check says why a backup record opened as id is not that backup.
func (rec *backupRecord) check(id string) error {
	if rec.Info.ID != id {
		return fmt.Errorf("the record says it is %s", rec.Info.ID)
	}
	return nil
}

// drop has nothing to zero: a backup blob is the cloud's own wrapping.
func (rec *backupRecord) drop() {}

// sealedRecord is a record kept sealed under the KEK in the store: a
// backup or a pending upload copy.
type sealedRecord[T any] interface {
	*T
	// check says why a record opened as id is not id's (nil: it is).
	check(id string) error
	// drop zeroes the key material the record holds.
	drop()
}

// openSealed unwraps sealed (a what, stored as id) under the KEK with
// aad and decodes it; a record that does not decode or is not id's is
// refused, its material zeroed.
func openSealed[T any, P sealedRecord[T]](kek Wrapper, what, id string, aad, sealed []byte) (*T, error) {
	plain, err := kek.Unwrap(sealed, aad)
	if err != nil {
		return nil, fmt.Errorf("open %s %s: %w", what, id, err)
	}
	defer clear(plain)
	rec := P(new(T))
	if err := json.Unmarshal(plain, rec); err != nil {
		rec.drop()
		return nil, fmt.Errorf("open %s %s: %w", what, id, err)
	}
	if err := rec.check(id); err != nil {
		rec.drop()
		return nil, fmt.Errorf("open %s %s: %w", what, id, err)
	}
	return rec, nil
}

// Backups lists the stored backups, newest first (from the manager's
// index: each stored backup is opened once per manager, not per call),
// after settling the pending upload copies a crash left (ResolvePending):
// those still unsettled are listed too, with Pending saying what to do.
func (m *Manager) Backups(ctx context.Context) ([]BackupInfo, error) {
	pending, perr := m.ResolvePending(ctx)
	out, err := m.storedBackups(ctx)
	out = append(out, pending...)
	newestFirst(out)
	return out, errors.Join(err, perr)
}

func (m *Manager) storedBackups(ctx context.Context) ([]BackupInfo, error) {
	var out []BackupInfo
	var broken error
	err := m.indexed(ctx, func(ix *backupIndex) error {
		out = make([]BackupInfo, 0, len(ix.byID))
		for _, b := range ix.byID {
			out = append(out, b)
		}
		broken = ix.brokenErr()
		return nil
	})
	if errors.Is(err, errNoBackups) {
		return nil, m.unreadable(ctx, "list backups")
	}
	if err != nil {
		return nil, err
	}
	newestFirst(out)
	return out, broken
}

// StoredBackups counts the sealed backups and pending upload copies in
// store, without opening them (no KEK needed).
func StoredBackups(ctx context.Context, store SealedStore) (int, error) {
	n := 0
	for _, kind := range []string{BackupKind, PendingKind} {
		all, err := store.Sealed(ctx, kind)
		if err != nil {
			return 0, fmt.Errorf("count stored backups: %w", err)
		}
		n += len(all)
		for _, b := range all {
			clear(b)
		}
	}
	return n, nil
}

// unreadable says why the backups a manager with a store and no KEK
// cannot list are there (nil when none is stored): an empty list would
// tell the administrator there is nothing to restore.
func (m *Manager) unreadable(ctx context.Context, op string) error {
	store, kek := m.backups()
	if store == nil || kek != nil {
		return nil
	}
	n, err := StoredBackups(ctx, store)
	if err != nil || n == 0 {
		return err
	}
	return &Error{Kind: ErrUnsupported, Op: op, Reason: fmt.Sprintf(
		"keyward's database holds %s sealed under the key-encryption key, and keyward.toml sets no keys.kek_file: set it to the file they were sealed under and restart the daemon",
		engine.Plural(n, "backup"))}
}

// Restore puts a stored backup back into target ("" = the source it was
// taken from), which must be a vault of the same kind and geography.
func (m *Manager) Restore(ctx context.Context, caller Caller, id, target string) (*KeyResult, error) {
	return m.RestoreWith(ctx, caller, id, RestoreRequest{Target: target})
}

// RestoreWith is Restore with r's choices: the target, and for a cloud
// whose material expires (engine.CapMaterialExpiry) a new expiry or none
// instead of the kept copy's. A choice the target cannot honour is
// refused before anything is sent to it. The restore is one activity
// event, which says the expiry the cloud stored.
func (m *Manager) RestoreWith(ctx context.Context, caller Caller, id string, r RestoreRequest) (*KeyResult, error) {
	store, kek := m.backups()
	if store == nil || kek == nil {
		return nil, fmt.Errorf("restore %s: %w: backups need keys.kek_file in keyward.toml", id, ErrUnsupported)
	}
	all, err := store.Sealed(ctx, BackupKind)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", id, err)
	}
	sealed, ok := all[id]
	if !ok {
		return nil, fmt.Errorf("restore: %w: no backup %q (keyward key backups lists them)", ErrNotFound, id)
	}
	rec, err := openBackup(kek, id, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(rec.Blob)
	target := cmp.Or(r.Target, rec.Info.Source)
	s, err := m.source(target, engine.CapRestore)
	if errors.Is(err, ErrNotFound) {
		return nil, missingTarget(id, rec.Info, target, r.Target != "")
	}
	if err != nil {
		return nil, err
	}
	conn := s.Connector()
	if conn.Kind() != rec.Info.Kind {
		return nil, fmt.Errorf("restore %s: %w: it is a %s backup and %q is a %s vault", id, ErrInvalid, rec.Info.Kind, target, conn.Kind())
	}
	if g := conn.Geography(); g != "" && rec.Info.Geography != "" && g != rec.Info.Geography {
		return nil, fmt.Errorf("restore %s: %w: taken in geography %q, %q is in %q; a vault backup only restores within its geography", id, ErrInvalid, rec.Info.Geography, target, g)
	}
	restore := conn.Restore
	if r.Expiry != nil {
		er, err := m.expiringRestorer(s, id, *r.Expiry)
		if err != nil {
			return nil, err
		}
		restore = func(ctx context.Context, blob []byte) (KeyVersion, error) {
			return er.RestoreExpiring(ctx, blob, *r.Expiry)
		}
	}
	kv, err := restore(ctx, rec.Blob)
	if err != nil {
		return nil, fmt.Errorf("restore %s into %s: %w", id, target, err)
	}
	details := fmt.Sprintf("restored from backup %s taken from %s on %s", id, rec.Info.Source, rec.Info.Created.Format(time.RFC3339))
	if conn.Capabilities().Has(engine.CapMaterialExpiry) {
		how := "as kept at upload"
		if r.Expiry != nil {
			how = "given at restore"
		}
		details += fmt.Sprintf("; the material %s (%s)", MaterialExpiry{At: kv.Expires}, how)
	}
	ev := m.event(caller, engine.OpRestored, engine.SeverityInfo, details)
	return m.recorded(ctx, s, kv.Name, nil, false, ev)
}

// expiringRestorer is s's connector when it can give restored material
// exp, else why not (before anything is sent).
func (m *Manager) expiringRestorer(s *SyncSource, id string, exp MaterialExpiry) (ExpiringRestorer, error) {
	if !s.Connector().Capabilities().Has(engine.CapMaterialExpiry) {
		return nil, &Error{Kind: ErrUnsupported, Op: "restore " + id, Reason: engine.NoMaterialExpiry(s.Name())}
	}
	er, ok := s.Connector().(ExpiringRestorer)
	if !ok {
		return nil, fmt.Errorf("restore %s: %w: %s source %q declares %s without the operation", id, ErrUnsupported, s.Kind(), s.Name(), engine.CapMaterialExpiry)
	}
	if exp.At != nil && !exp.At.After(m.Now()) {
		return nil, &Error{Kind: ErrInvalid, Op: "restore " + id,
			Reason: fmt.Sprintf("the expiry %s is not in the future (give a later date, or no expiry)", exp.At.UTC().Format(time.RFC3339))}
	}
	return er, nil
}

// missingTarget says which vault a restore of the backup info (id) needs
// and that keyward.toml configures no source of that name.
func missingTarget(id string, info BackupInfo, target string, chosen bool) error {
	where := fmt.Sprintf("another %s vault", info.Kind)
	if info.Geography != "" {
		where += " in " + info.Geography
	}
	reason := fmt.Sprintf("backup %s of %s was taken from the %s source %q, which keyward.toml does not configure: add its [[%s]] section back and restart the daemon, or restore into %s with --to SOURCE",
		id, info.Key, info.Kind, info.Source, info.Kind, where)
	if chosen {
		reason = fmt.Sprintf("no cloud source named %q to restore backup %s of %s into (a %s backup taken from %q): keyward status lists the sources; restore into the %s source it came from or %s",
			target, id, info.Key, info.Kind, info.Source, info.Kind, where)
	}
	return &Error{Kind: ErrNotFound, Op: "restore " + id, Reason: reason}
}

// DeleteBackup removes a stored backup.
func (m *Manager) DeleteBackup(ctx context.Context, caller Caller, id string) error {
	store, _ := m.backups()
	if store == nil {
		return fmt.Errorf("delete backup %s: %w", id, ErrNotFound)
	}
	// A pending upload copy the administrator has dealt with.
	if pend, err := store.Sealed(ctx, PendingKind); err == nil {
		if _, ok := pend[id]; ok {
			return store.DeleteSealed(ctx, PendingKind, id)
		}
	}
	err := m.indexed(ctx, func(ix *backupIndex) error {
		_, ok := ix.byID[id]
		if _, bad := ix.broken[id]; !ok && !bad {
			return &Error{Kind: ErrNotFound, Reason: fmt.Sprintf("no backup %q (keyward key backups lists them)", id)}
		}
		if err := store.DeleteSealed(ctx, BackupKind, id); err != nil {
			return fmt.Errorf("delete backup %s: %w", id, err)
		}
		ix.remove(id)
		return nil
	})
	if errors.Is(err, errNoBackups) {
		if err := m.unreadable(ctx, "delete backup "+id); err != nil {
			return err
		}
		return fmt.Errorf("delete backup %s: %w", id, ErrNotFound)
	}
	return err
}

func describe(kv KeyVersion) string {
	s := algorithm(kv.Type, kv.Curve)
	if kv.Curve == "" && kv.Size > 0 {
		s += fmt.Sprintf(" %d", kv.Size)
	}
	if kv.Version != "" {
		s += " version " + kv.Version
	}
	return s
}

// checkName accepts what every supported cloud accepts: 1–127 letters,
// digits and dashes (Azure Key Vault's rule; dots are refused there).
// checkTags refuses tags a caller may not set: keyward:unsupported:*
// says what a key cannot do, and only its connector says that.
func checkTags(op string, tags map[string]string) error {
	for k := range tags {
		if strings.HasPrefix(k, engine.TagUnsupported) {
			return fmt.Errorf("%s: %w: tag %q is keyward's own (what the key cannot do, set by its connector), not one to set", op, ErrInvalid, k)
		}
	}
	return nil
}

// checkNewName is the check of a new key's name: the connector's own
// (NameChecker), else checkName.
func checkNewName(c Connector, name string) error {
	if nc, ok := c.(NameChecker); ok {
		return nc.CheckName(name)
	}
	return checkName(name)
}

func checkName(name string) error {
	if name == "" || len(name) > 127 {
		return fmt.Errorf("%w: key name %q must be 1 to 127 characters", ErrInvalid, name)
	}
	if strings.Contains(name, "/") {
		// A Google key is named location/ring/key (its connector
		// takes that); here a path is a mistake worth its own words.
		return fmt.Errorf("%w: key name %q holds a /: a new key in this cloud takes a bare name of letters, digits and dashes (e.g. acme-payments-card)", ErrInvalid, name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%w: key name %q may only hold letters, digits and dashes (e.g. acme-payments-card)", ErrInvalid, name)
		}
	}
	return nil
}

func checkKeySpec(name, typ string, size int, curve string) error {
	if err := checkName(name); err != nil {
		return err
	}
	switch strings.ToUpper(typ) {
	case "RSA":
		if size != 2048 && size != 3072 && size != 4096 {
			return fmt.Errorf("%w: RSA key size %d is not 2048, 3072 or 4096", ErrInvalid, size)
		}
		if curve != "" {
			return fmt.Errorf("%w: an RSA key has no curve (got %q)", ErrInvalid, curve)
		}
	case "EC":
		if _, err := curveOf(curve); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: key type %q is not RSA or EC", ErrInvalid, typ)
	}
	return nil
}

func curveOf(name string) (elliptic.Curve, error) {
	switch name {
	case "P-256":
		return elliptic.P256(), nil
	case "P-384":
		return elliptic.P384(), nil
	case "P-521":
		return elliptic.P521(), nil
	}
	return nil, fmt.Errorf("%w: curve %q is not P-256, P-384 or P-521", ErrInvalid, name)
}

func generate(typ string, size int, curve string) (crypto.PrivateKey, error) {
	if strings.ToUpper(typ) == "RSA" {
		return rsa.GenerateKey(rand.Reader, size)
	}
	c, err := curveOf(curve)
	if err != nil {
		return nil, err
	}
	return ecdsa.GenerateKey(c, rand.Reader)
}

// zeroPrivate overwrites the private parts of a generated key.
func zeroPrivate(k crypto.PrivateKey) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		k.D.SetInt64(0)
		for _, p := range k.Primes {
			p.SetInt64(0)
		}
		k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv = nil, nil, nil
	case *ecdsa.PrivateKey:
		k.D.SetInt64(0)
	}
}
