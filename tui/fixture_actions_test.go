package tui_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/daemon/cloud/gcp"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/engine"
)

// cloudFixture is the part of the fixture that stands in for the daemon's
// cloud life-cycle routes (/v1/cloud/...), POST /v1/sync and the KMIP
// certificate routes (/v1/kmip/{source}/...). It applies each operation to
// the fixture's inventory the way the daemon does (a rotation adds a
// version, a delete marks the key deleted, ...), checks the confirm string
// of delete and purge as the daemon does, and then sends the "keys"
// notification the daemon sends, so the tests see the TUI refetch. The
// real routes are exercised against the real daemon in tui/e2e.
type cloudFixture struct {
	mu sync.Mutex
	// calls records every request that reached the "daemon", in order.
	calls []string
	// refuse, when set, is the answer to the next life-cycle call.
	refuse  *api.Error
	backups []api.BackupInfo
	// hold, when set, keeps backup restores and deletes waiting until it
	// is closed (a daemon that is slow to answer).
	hold chan struct{}
	// syncHold, when set, keeps syncs waiting until it is closed (a vault
	// that is slow to list its keys).
	syncHold chan struct{}
	policy   api.RotationPolicy
	// The KMIP client identity: the CSR's key and what was received.
	csrKey       *ecdsa.PrivateKey
	imported     bool
	passwords    []string
	keyPasswords []string
}

func (f *fixture) record(format string, args ...any) {
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	f.cloud.calls = append(f.cloud.calls, fmt.Sprintf(format, args...))
}

// Calls returns the requests made so far.
func (f *fixture) Calls() []string {
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	return append([]string(nil), f.cloud.calls...)
}

// wantCalls fails t unless the requests sent so far are exactly want.
func (f *fixture) wantCalls(t *testing.T, want ...string) {
	t.Helper()
	if c := f.Calls(); strings.Join(c, "\n") != strings.Join(want, "\n") || len(c) != len(want) {
		t.Fatalf("requests sent: %q, want %q", c, want)
	}
}

func (f *fixture) refused() error {
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	if e := f.cloud.refuse; e != nil {
		f.cloud.refuse = nil
		return e
	}
	return nil
}

func (f *fixture) notifyKeys(source string) {
	select {
	case f.notes <- notification(api.NoteKeys, source):
	default:
	}
}

var allCaps = []string{engine.CapCreate, engine.CapUpload, engine.CapRotate, engine.CapUpdate, engine.CapDelete, engine.CapRecover,
	engine.CapPurge, engine.CapBackup, engine.CapRestore, engine.CapRotationPolicy, engine.CapDates, engine.CapVersionEnable}

// CloudSources serves GET /v1/cloud/sources: vault-emu is the one cloud vault.
func (f *fixture) CloudSources(ctx context.Context) ([]api.CloudSourceInfo, error) {
	out := []api.CloudSourceInfo{{Name: "vault-emu", Kind: "azure", Address: "https://acme-vault.vault.azure.net",
		Geography: "europe", Capabilities: allCaps}}
	if f.aws {
		out = append(out, api.CloudSourceInfo{Name: "aws-prod", Kind: "aws", Address: "kms:aws:eu-west-1", Geography: "aws", Capabilities: awsCaps,
			Creates: (&aws.Account{}).CreateSpecs()})
	}
	if f.gcp {
		// What the connector declares, translated as the daemon does.
		p := &gcp.Project{}
		out = append(out, localapi.CloudSources([]cloud.SourceInfo{{Name: "gcp-prod", Kind: "gcp", Address: "projects/" + gcpkms.DemoProject,
			Capabilities: gcpCaps, Creates: p.CreateSpecs(), Options: p.CreateOptions(), PrimaryTag: p.PrimaryTag()}})...)
	}
	return out, nil
}

// versions returns the inventory rows of a cloud key (lock held).
func (f *fixture) versions(source, name string) []engine.Key {
	var out []engine.Key
	for _, k := range f.keys {
		if k.Source == source && k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

func notFound(source, name string) error {
	return &api.Error{Status: 404, Code: api.CodeNotFound, Message: fmt.Sprintf("no key %s in %s", name, source)}
}

// CloudKeyOp serves POST /v1/cloud/{source}/keys/{name}/{op}.
func (f *fixture) CloudKeyOp(ctx context.Context, source, name, op, confirm string) (*api.CloudKeyResult, error) {
	f.record("%s %s/%s confirm=%q", op, source, name, confirm)
	if err := f.refused(); err != nil {
		return nil, err
	}
	if (op == "delete" || op == "purge") && confirm != name {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest,
			Message: fmt.Sprintf("%s %s: invalid: type the key's name again to confirm (got %q)", op, name, confirm)}
	}
	f.mu.Lock()
	rows := f.versions(source, name)
	if len(rows) == 0 {
		f.mu.Unlock()
		return nil, notFound(source, name)
	}
	var ev engine.Event
	switch op {
	case "rotate":
		nk := rows[len(rows)-1]
		nk.Version = fmt.Sprint(len(rows) + 1)
		nk.ID = engine.KeyID(source, name, nk.Version)
		nk.Created, nk.Activated = &fixedNow, &fixedNow
		nk.Fingerprint = "sha256:ffee" + nk.Version
		f.keys = append(f.keys, nk)
		ev = engine.Event{Operation: engine.OpRotated, Details: "rotated via keyward"}
	case "delete", "recover", "purge":
		st := map[string]engine.State{"delete": engine.StateDeleted, "recover": engine.StateActive, "purge": engine.StatePurged}[op]
		for i := range f.keys {
			if f.keys[i].Source == source && f.keys[i].Name == name {
				f.keys[i].State = st
			}
		}
		ev = engine.Event{Operation: op + "d"}
	default:
		f.mu.Unlock()
		return nil, &api.Error{Status: 404, Code: api.CodeNotFound, Message: "unknown operation " + op}
	}
	rows = f.versions(source, name)
	f.mu.Unlock()
	f.notifyKeys(source)
	return &api.CloudKeyResult{Keys: rows, Event: &ev}, nil
}

// CloudVersionOp serves delete, recover and make-primary of one version
// (POST /v1/cloud/{source}/keys/{name}/{op} with a version), as the
// daemon does for a Google source: the name typed again for delete, a
// version that exists.
func (f *fixture) CloudVersionOp(ctx context.Context, source, name, op, version, confirm string) (*api.CloudKeyResult, error) {
	if version == "" {
		return f.CloudKeyOp(ctx, source, name, op, confirm)
	}
	f.record("%s version %s of %s/%s confirm=%q", op, version, source, name, confirm)
	if err := f.refused(); err != nil {
		return nil, err
	}
	if op == "delete" && confirm != name {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest,
			Message: fmt.Sprintf("delete %s: invalid: type the key's name again to confirm (got %q)", name, confirm)}
	}
	f.mu.Lock()
	found := false
	for i := range f.keys {
		k := &f.keys[i]
		if k.Source != source || k.Name != name {
			continue
		}
		if op == "make-primary" {
			delete(k.Tags, gcp.TagPrimary)
		}
		if k.Version != version {
			continue
		}
		found = true
		switch op {
		case "delete":
			k.State = engine.StateDeleted
		case "recover":
			k.State = engine.StateActive
		case "make-primary":
			k.Tags = maps.Clone(k.Tags)
			if k.Tags == nil {
				k.Tags = map[string]string{}
			}
			k.Tags[gcp.TagPrimary] = "true"
		}
	}
	rows := f.versions(source, name)
	f.mu.Unlock()
	if !found {
		return nil, notFound(source, name+"/"+version)
	}
	f.notifyKeys(source)
	return &api.CloudKeyResult{Keys: rows}, nil
}

// UpdateCloudKey serves POST /v1/cloud/{source}/keys/{name}/update.
func (f *fixture) UpdateCloudKey(ctx context.Context, source, name string, r api.UpdateKeyRequest) (*api.CloudKeyResult, error) {
	desc := []string{}
	if r.Enabled != nil {
		desc = append(desc, fmt.Sprintf("enabled=%v", *r.Enabled))
	}
	if r.Expires != nil {
		desc = append(desc, "expires="+r.Expires.Format("2006-01-02"))
	}
	if r.Tags != nil {
		desc = append(desc, "tags="+fmt.Sprint(r.Tags))
	}
	if r.Version != "" && r.Enabled != nil {
		desc = append(desc, "version="+r.Version)
	}
	f.record("update %s/%s %s", source, name, strings.Join(desc, " "))
	if err := f.refused(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	for i := range f.keys {
		k := &f.keys[i]
		if k.Source != source || k.Name != name || (r.Version != "" && r.Enabled != nil && k.Version != r.Version) {
			continue
		}
		if r.Enabled != nil {
			k.State = engine.StateDisabled
			if *r.Enabled {
				k.State = engine.StateActive
			}
		}
		if r.Expires != nil {
			k.Expires = r.Expires
		}
		if r.Tags != nil {
			k.Tags = r.Tags
		}
	}
	rows := f.versions(source, name)
	f.mu.Unlock()
	f.notifyKeys(source)
	return &api.CloudKeyResult{Keys: rows}, nil
}

// CreateCloudKey serves POST /v1/cloud/{source}/keys.
func (f *fixture) CreateCloudKey(ctx context.Context, source string, r api.CreateKeyRequest) (*api.CloudKeyResult, error) {
	f.record("create %s/%s %s %d%s%s", source, r.Name, r.Type, r.Size, r.Curve, sortedTags(r.Tags))
	if err := f.refused(); err != nil {
		return nil, err
	}
	k := engine.Key{ID: engine.KeyID(source, r.Name, "1"), Source: source, Name: r.Name, Version: "1", Algorithm: r.Type,
		State: engine.StateActive, Created: &fixedNow, Activated: &fixedNow, Expires: r.Expires, Updated: fixedNow}
	f.mu.Lock()
	f.keys = append(f.keys, k)
	f.mu.Unlock()
	f.notifyKeys(source)
	res := &api.CloudKeyResult{Keys: []engine.Key{k}}
	if strings.HasPrefix(r.Name, "lost-") {
		// As the daemon answers when the vault's answer was lost and
		// keyward found the key the lost call made.
		res.Recovered = "the answer to CreateKey was lost; keyward found the key it made: " + r.Name + " version 1, and made no second"
	}
	return res, nil
}

// BackupCloudKey serves POST /v1/cloud/{source}/keys/{name}/backup.
func (f *fixture) BackupCloudKey(ctx context.Context, source, name string) (*api.BackupInfo, error) {
	f.record("backup %s/%s", source, name)
	if err := f.refused(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	n := len(f.versions(source, name))
	f.mu.Unlock()
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	b := api.BackupInfo{ID: fmt.Sprintf("bk-%d", len(f.cloud.backups)+1), Source: source, Kind: "azure", Geography: "europe",
		Key: name, Versions: n, Created: fixedNow, Size: 2048, Actor: "alice"}
	f.cloud.backups = append([]api.BackupInfo{b}, f.cloud.backups...)
	return &b, nil
}

// CloudBackups serves GET /v1/cloud/backups.
func (f *fixture) CloudBackups(ctx context.Context) ([]api.BackupInfo, error) {
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	return append([]api.BackupInfo(nil), f.cloud.backups...), nil
}

// backup finds a stored backup, after waiting for hold.
func (f *fixture) backup(ctx context.Context, id string) (api.BackupInfo, error) {
	if f.cloud.hold != nil {
		select {
		case <-f.cloud.hold:
		case <-ctx.Done():
			return api.BackupInfo{}, ctx.Err()
		}
	}
	if err := f.refused(); err != nil {
		return api.BackupInfo{}, err
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	for _, b := range f.cloud.backups {
		if b.ID == id {
			return b, nil
		}
	}
	return api.BackupInfo{}, &api.Error{Status: 404, Code: api.CodeNotFound,
		Message: fmt.Sprintf("no backup %q (keyward key backups lists them)", id)}
}

// RestoreCloudBackup serves POST /v1/cloud/backups/{id}/restore. A key the
// inventory does not hold (purged, or never synced) comes back with the
// backup's versions, and the "keys" notification follows, as the daemon
// records what the vault answers.
func (f *fixture) RestoreCloudBackup(ctx context.Context, id string, r api.RestoreRequest) (*api.CloudKeyResult, error) {
	source := r.Source
	switch {
	case r.NoExpiry:
		f.record("restore %s into %s, material without expiry", id, source)
	case r.Expires != nil:
		f.record("restore %s into %s, material expiring %s", id, source, r.Expires.UTC().Format(time.DateOnly))
	default:
		f.record("restore %s into %s", id, source)
	}
	b, err := f.backup(ctx, id)
	if err != nil {
		return nil, err
	}
	if source == "" {
		source = b.Source
	}
	f.mu.Lock()
	if len(f.versions(source, b.Key)) == 0 {
		for v := 1; v <= max(1, b.Versions); v++ {
			k := engine.Key{ID: engine.KeyID(source, b.Key, fmt.Sprint(v)), Source: source, Name: b.Key, Version: fmt.Sprint(v),
				Algorithm: "RSA", Length: 3072, State: engine.StateActive, Created: &b.Created, Activated: &b.Created, Updated: fixedNow}
			a := engine.Classify(k, fixedNow, engine.DefaultThresholds())
			k.Aging = &a
			f.keys = append(f.keys, k)
		}
	}
	rows := f.versions(source, b.Key)
	f.mu.Unlock()
	f.notifyKeys(source)
	return &api.CloudKeyResult{Keys: rows, Event: &engine.Event{Operation: engine.OpRestored}}, nil
}

// DeleteCloudBackup serves DELETE /v1/cloud/backups/{id}.
func (f *fixture) DeleteCloudBackup(ctx context.Context, id string) error {
	f.record("delete-backup %s", id)
	if _, err := f.backup(ctx, id); err != nil {
		return err
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	kept := f.cloud.backups[:0]
	for _, b := range f.cloud.backups {
		if b.ID != id {
			kept = append(kept, b)
		}
	}
	f.cloud.backups = kept
	return nil
}

// CloudRotationPolicy serves GET /v1/cloud/{source}/keys/{name}/policy.
func (f *fixture) CloudRotationPolicy(ctx context.Context, source, name string) (*api.RotationPolicy, error) {
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	p := f.cloud.policy
	return &p, nil
}

// SetCloudRotationPolicy serves POST /v1/cloud/{source}/keys/{name}/policy.
func (f *fixture) SetCloudRotationPolicy(ctx context.Context, source, name string, p api.RotationPolicy) (*api.RotationPolicy, error) {
	f.record("policy %s/%s rotate-after=%s expire-after=%s", source, name, p.RotateAfter, p.ExpireAfter)
	if err := f.refused(); err != nil {
		return nil, err
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	f.cloud.policy = p
	return &p, nil
}

// Sync serves POST /v1/sync[?source=S].
func (f *fixture) Sync(ctx context.Context, source string) (*api.SyncResult, error) {
	f.record("sync %q", source)
	if f.cloud.syncHold != nil {
		select {
		case <-f.cloud.syncHold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := f.refused(); err != nil {
		return nil, err
	}
	if source == "" {
		return &api.SyncResult{Synced: []string{"kms-prod", "vault-emu"}}, nil
	}
	return &api.SyncResult{Synced: []string{source}}, nil
}

func (f *fixture) kmipSource(source string) error {
	for _, s := range f.sources {
		if s.Name == source && s.Kind == "kmip" {
			return nil
		}
	}
	return &api.Error{Status: 404, Code: api.CodeNotFound, Message: fmt.Sprintf("no KMIP source named %q", source)}
}

// KMIPCert serves GET /v1/kmip/{source}/cert: none installed yet.
func (f *fixture) KMIPCert(ctx context.Context, source string) (*api.CertInfo, error) {
	if err := f.kmipSource(source); err != nil {
		return nil, err
	}
	return nil, &api.Error{Status: 404, Code: api.CodeNotFound,
		Message: "no client certificate installed for " + source + ": generate a CSR or import a keystore"}
}

// KMIPCSR serves POST /v1/kmip/{source}/csr with a real ECDSA key and CSR;
// like the daemon, it refuses to replace an existing key without Force.
func (f *fixture) KMIPCSR(ctx context.Context, source string, req api.CSRRequest) (*api.CSRResponse, error) {
	f.record("csr %s cn=%q o=%q rsa=%v force=%v", source, req.CommonName, req.Organization, req.RSA, req.Force)
	if err := f.kmipSource(source); err != nil {
		return nil, err
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	if f.cloud.csrKey != nil && !req.Force {
		return nil, &api.Error{Status: 409, Code: api.CodeConflict,
			Message: source + " already has a private key; confirm replacing it (the installed certificate will stop matching)"}
	}
	if req.CommonName == "" {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest, Message: "a CSR needs a common name"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: req.CommonName, Organization: []string{req.Organization}}}, key)
	if err != nil {
		return nil, err
	}
	f.cloud.csrKey = key
	return &api.CSRResponse{CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})),
		KeyFile: "/var/lib/keyward/kmip/" + source + "/client.key"}, nil
}

// KMIPInstallCert serves POST /v1/kmip/{source}/install: the certificate
// must be PEM and match the CSR's key, as the daemon checks.
func (f *fixture) KMIPInstallCert(ctx context.Context, source string, req api.InstallCertRequest) (*api.CertInfo, error) {
	f.record("install %s", source)
	if err := f.kmipSource(source); err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(req.Cert)
	if blk == nil {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest, Message: "certificate: no PEM block found"}
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest, Message: "certificate: " + err.Error()}
	}
	f.cloud.mu.Lock()
	key := f.cloud.csrKey
	f.cloud.mu.Unlock()
	if key == nil || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest,
			Message: "the certificate does not match the private key of the last CSR (" + cert.Subject.CommonName + ")"}
	}
	return &api.CertInfo{Source: source, Certificate: engine.Certificate{Format: "PEM", Subject: cert.Subject.String(), Issuer: cert.Issuer.String(),
		KeyType: "ECDSA P-256", NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, ChainLen: 1, ClientAuth: true}}, nil
}

// KMIPImportKeystore serves POST /v1/kmip/{source}/import; the fixture
// keeps the passwords it received so a test can check what was sent. Like
// the daemon, once the keystore opens it refuses to replace a key the
// source holds (from a CSR or an earlier import) without Force.
func (f *fixture) KMIPImportKeystore(ctx context.Context, source string, req api.ImportKeystoreRequest) (*api.CertInfo, error) {
	f.record("import %s %d bytes force=%v", source, len(req.Keystore), req.Force)
	if err := f.kmipSource(source); err != nil {
		return nil, err
	}
	f.cloud.mu.Lock()
	defer f.cloud.mu.Unlock()
	f.cloud.passwords = append(f.cloud.passwords, req.Password)
	f.cloud.keyPasswords = append(f.cloud.keyPasswords, req.KeyPassword)
	if req.Password != "changeit" {
		return nil, &api.Error{Status: 400, Code: api.CodeBadRequest,
			Message: "open keystore: keystore password was incorrect"}
	}
	if (f.cloud.csrKey != nil || f.cloud.imported) && !req.Force {
		return nil, &api.Error{Status: 409, Code: api.CodeConflict,
			Message: source + " already has a different private key; confirm replacing it with the keystore's (a CSR pending for the current key can no longer be installed)"}
	}
	f.cloud.imported = true
	return &api.CertInfo{Source: source, Certificate: engine.Certificate{Format: "JKS", Alias: "kms-client", Subject: "CN=keyward,O=acme",
		Issuer: "CN=acme CA", KeyType: "ECDSA P-256", NotBefore: fixedNow.Add(-24 * time.Hour), NotAfter: fixedNow.Add(365 * 24 * time.Hour),
		ChainLen: 2, ClientAuth: true}, Summary: "JKS keystore: private key kms-client with a chain of 2 certificates"}, nil
}

// sortedCalls is for messages.
// sortedTags is " tags=k=v,…" in name order, "" without tags.
func sortedTags(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	kv := make([]string, 0, len(tags))
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return " tags=" + strings.Join(kv, ",")
}

func sortedCalls(c []string) string {
	c = append([]string(nil), c...)
	sort.Strings(c)
	return strings.Join(c, "\n")
}

// UploadCloudKey serves POST /v1/cloud/{source}/upload.
func (f *fixture) UploadCloudKey(ctx context.Context, source string, r api.UploadKeyRequest) (*api.CloudKeyResult, error) {
	exp := ""
	if r.Expires != nil {
		exp = " expires=" + r.Expires.UTC().Format(time.DateOnly)
	}
	f.record("upload %s/%s %s %d%s from=%s/%s%s", source, r.Name, r.Type, r.Size, r.Curve, r.FromSource, r.FromApplication, exp)
	if err := f.refused(); err != nil {
		return nil, err
	}
	k := engine.Key{ID: engine.KeyID(source, r.Name, "1"), Source: source, Name: r.Name, Version: "1", Algorithm: "AES",
		State: engine.StateActive, Created: &fixedNow, Updated: fixedNow, LinkedTo: r.FromSource}
	f.mu.Lock()
	f.keys = append(f.keys, k)
	f.mu.Unlock()
	f.notifyKeys(source)
	return &api.CloudKeyResult{Keys: []engine.Key{k}}, nil
}
