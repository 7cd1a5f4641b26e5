// Package testkind_test is a third cloud connector kind that exists only in
// this test: an in-memory vault behind cloud.Connector, with its own
// [[memvault]] config section, registered through cloud.Register exactly as
// a real connector package would. The test writes a keyward.toml naming
// it, runs the real daemon on a real socket and drives the life cycle
// through the real CLI and the socket API, beside an Azure vault in the same
// daemon: nothing outside this file knows the kind exists.
package testkind_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/demo/vault"
	"github.com/keyward/keyward/engine"
)

// settings is one [[memvault]] section.
type settings struct {
	Name   string `toml:"name"`
	Region string `toml:"region"`
}

func (s *settings) SourceName() string { return s.Name }

func (s *settings) Validate(prefix string) []string {
	if s.Region == "" {
		return []string{prefix + ".region: is required (e.g. \"moon-1\")"}
	}
	return nil
}

// vaults are the connectors the registry built, by source name, so the
// test can look at the "cloud" behind the daemon.
var (
	vaultsMu sync.Mutex
	vaults   = map[string]*memVault{}
)

func init() {
	cloud.Register(cloud.KindOf("memvault", func(sec settings, env cloud.Env) (*cloud.SyncSource, error) {
		v := &memVault{region: sec.Region, dataDir: env.DataDir, keys: map[string]*memKey{}}
		vaultsMu.Lock()
		vaults[sec.Name] = v
		vaultsMu.Unlock()
		return cloud.NewSyncSource(sec.Name, v, time.Hour, env.Logger), nil
	}))
}

type memKey struct {
	versions []cloud.KeyVersion
	deleted  *time.Time
	policy   cloud.RotationPolicy
}

// memVault is a whole cloud in a map. It does not back up or import: its
// capabilities say so, and the daemon must refuse those operations
// without calling it.
type memVault struct {
	mu      sync.Mutex
	region  string
	dataDir string // as the daemon handed it to the constructor
	keys    map[string]*memKey
	calls   []string
	// answered, when set, holds a rotation's answer back (the rotation
	// is made) until it is closed: a cloud that answers late.
	answered chan struct{}
}

var _ cloud.Connector = (*memVault)(nil)

func notFound(op, name string) error {
	return &cloud.Error{Kind: cloud.ErrNotFound, Op: op + " " + name, Reason: "no key " + name + " in the memory vault"}
}

func (v *memVault) Kind() string      { return "memvault" }
func (v *memVault) Address() string   { return "mem://" + v.region }
func (v *memVault) Geography() string { return v.region }
func (v *memVault) Capabilities() cloud.Capabilities {
	return cloud.Capabilities{engine.CapCreate, engine.CapRotate, engine.CapUpdate, engine.CapDelete, engine.CapRecover, engine.CapPurge, engine.CapRotationPolicy}
}

func (v *memVault) called(op string) { v.calls = append(v.calls, op) }

// call records a call of the cloud, op, and holds the vault's lock until
// the returned func runs.
func (v *memVault) call(op string) (unlock func()) {
	v.mu.Lock()
	v.called(op)
	return v.mu.Unlock
}

// live is the key name, or op's not-found error when it is unknown or
// deleted.
func (v *memVault) live(op, name string) (*memKey, error) {
	k, ok := v.keys[name]
	if !ok || k.deleted != nil {
		return nil, notFound(op, name)
	}
	return k, nil
}

func (k *memKey) current() cloud.KeyVersion { return k.versions[len(k.versions)-1] }

func (v *memVault) list(deleted bool) []cloud.KeyVersion {
	var out []cloud.KeyVersion
	for _, k := range v.keys {
		if (k.deleted != nil) != deleted {
			continue
		}
		kv := k.current()
		kv.Deleted = k.deleted
		out = append(out, kv)
	}
	slices.SortFunc(out, func(a, b cloud.KeyVersion) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (v *memVault) ListKeys(_ context.Context, page func([]cloud.KeyVersion) error) error {
	v.mu.Lock()
	items := v.list(false)
	v.mu.Unlock()
	return page(items)
}

func (v *memVault) ListDeleted(_ context.Context, page func([]cloud.KeyVersion) error) error {
	v.mu.Lock()
	items := v.list(true)
	v.mu.Unlock()
	return page(items)
}

func (v *memVault) Versions(_ context.Context, name string) ([]cloud.KeyVersion, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, err := v.live("versions of", name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(k.versions), nil
}

func (v *memVault) Get(_ context.Context, name, version string) (cloud.KeyVersion, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, err := v.live("get", name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	for _, kv := range k.versions {
		if kv.Version == version {
			return kv, nil
		}
	}
	if version == "" {
		return k.current(), nil
	}
	return cloud.KeyVersion{}, notFound("get", name+"/"+version)
}

func (v *memVault) Create(_ context.Context, r cloud.CreateRequest) (cloud.KeyVersion, error) {
	defer v.call("create")()
	if _, ok := v.keys[r.Name]; ok {
		return cloud.KeyVersion{}, &cloud.Error{Kind: cloud.ErrConflict, Op: "create " + r.Name, Reason: "exists"}
	}
	now := time.Now().UTC().Truncate(time.Second)
	kv := cloud.KeyVersion{Name: r.Name, Version: "1", Type: r.Type, Curve: r.Curve, Size: r.Size, Enabled: !r.Disabled,
		Created: now, Updated: now, Expires: r.Expires, NotBefore: r.NotBefore, Tags: r.Tags}
	v.keys[r.Name] = &memKey{versions: []cloud.KeyVersion{kv}}
	return kv, nil
}

func (v *memVault) Import(context.Context, cloud.ImportRequest) (cloud.KeyVersion, error) {
	v.called("import")
	return cloud.KeyVersion{}, cloud.ErrUnsupported
}

func (v *memVault) Rotate(_ context.Context, name string) (cloud.KeyVersion, error) {
	unlock := v.call("rotate")
	k, err := v.live("rotate", name)
	if err != nil {
		unlock()
		return cloud.KeyVersion{}, err
	}
	cur := k.current()
	n, _ := strconv.Atoi(cur.Version)
	now := time.Now().UTC().Truncate(time.Second).Add(time.Second)
	cur.Version, cur.Created, cur.Updated = strconv.Itoa(n+1), now, now
	k.versions = append(k.versions, cur)
	answered := v.answered
	unlock()
	if answered != nil {
		<-answered
	}
	return cur, nil
}

func (v *memVault) Update(_ context.Context, name, version string, u cloud.Update) (cloud.KeyVersion, error) {
	defer v.call("update")()
	k, err := v.live("update", name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	i := len(k.versions) - 1
	if version != "" {
		i = slices.IndexFunc(k.versions, func(kv cloud.KeyVersion) bool { return kv.Version == version })
		if i < 0 {
			return cloud.KeyVersion{}, notFound("update", name+"/"+version)
		}
	}
	kv := &k.versions[i]
	if u.Enabled != nil {
		kv.Enabled = *u.Enabled
	}
	if u.Expires != nil {
		kv.Expires = u.Expires
	}
	if u.Tags != nil {
		kv.Tags = u.Tags
	}
	kv.Updated = kv.Updated.Add(time.Second)
	return *kv, nil
}

func (v *memVault) Delete(_ context.Context, name string) (cloud.KeyVersion, error) {
	defer v.call("delete")()
	k, err := v.live("delete", name)
	if err != nil {
		return cloud.KeyVersion{}, err
	}
	cur := k.current()
	now := time.Now().UTC().Truncate(time.Second)
	purge := now.Add(90 * 24 * time.Hour)
	k.deleted = &now
	cur.Deleted, cur.PurgeAt = &now, &purge
	return cur, nil
}

func (v *memVault) Recover(_ context.Context, name string) (cloud.KeyVersion, error) {
	defer v.call("recover")()
	k, ok := v.keys[name]
	if !ok || k.deleted == nil {
		return cloud.KeyVersion{}, notFound("recover", name)
	}
	k.deleted = nil
	return k.current(), nil
}

func (v *memVault) Purge(_ context.Context, name string) error {
	defer v.call("purge")()
	k, ok := v.keys[name]
	if !ok || k.deleted == nil {
		return &cloud.Error{Kind: cloud.ErrConflict, Op: "purge " + name, Reason: "only a deleted key can be purged"}
	}
	delete(v.keys, name)
	return nil
}

func (v *memVault) Backup(context.Context, string) ([]byte, error) {
	v.called("backup")
	return nil, cloud.ErrUnsupported
}

func (v *memVault) Restore(context.Context, []byte) (cloud.KeyVersion, error) {
	v.called("restore")
	return cloud.KeyVersion{}, cloud.ErrUnsupported
}

func (v *memVault) RotationPolicy(_ context.Context, name string) (cloud.RotationPolicy, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	k, ok := v.keys[name]
	if !ok {
		return cloud.RotationPolicy{}, notFound("policy of", name)
	}
	return k.policy, nil
}

func (v *memVault) SetRotationPolicy(_ context.Context, name string, p cloud.RotationPolicy) (cloud.RotationPolicy, error) {
	defer v.call("policy")()
	k, ok := v.keys[name]
	if !ok {
		return cloud.RotationPolicy{}, notFound("policy of", name)
	}
	k.policy = p
	return p, nil
}

func (v *memVault) versions(name string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k, ok := v.keys[name]; ok {
		return len(k.versions)
	}
	return 0
}

func (v *memVault) callList() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.calls)
}

// startDaemon writes a keyward.toml with a [[memvault]] section beside an
// [[azure]] one (the emulated vault, holding orders-kek), loads it as the
// daemon's command does and runs the daemon on a real socket.
func startDaemon(t *testing.T) (sock string, v *memVault, az *vault.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	az, err := vault.Start(ctx, vault.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = az.Close() })
	if err := az.AddKey(vault.KeySpec{Name: "orders-kek", Versions: 1}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, tokenFile, err := az.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := daemontest.Config(t, dir, fmt.Sprintf(`[[memvault]]
name = "moon"
region = "moon-1"

[[azure]]
name = "vault"
vault_url = %q
credential = "emulator"
token_file = %q
ca_file = %q
`, az.URL, tokenFile, caFile))
	sock = daemontest.Start(t, cfg, daemon.Options{})
	vaultsMu.Lock()
	v = vaults["moon"]
	vaultsMu.Unlock()
	if v == nil {
		t.Fatal("the registry did not build the [[memvault]] source")
	}
	if v.dataDir != cfg.DataDir {
		t.Errorf("the constructor was given data dir %q, want %q", v.dataDir, cfg.DataDir)
	}
	return sock, v, az
}

// TestThirdKindEndToEnd: a connector kind registered only here is built
// from its own config section, announced with its capabilities, and its
// keys go through create, rotate, update, policy, delete, recover and
// purge from the CLI; what it cannot do is refused before it is called.
func TestThirdKindEndToEnd(t *testing.T) {
	sock, v, az := startDaemon(t)
	ctx := context.Background()
	c := api.NewClient(sock)
	kw := clitest.Runner(t, sock)

	// One manager over both kinds: the daemon announces each source, its
	// kind and what it can do.
	clouds, err := c.CloudSources(ctx)
	if err != nil || len(clouds) != 2 || clouds[0].Kind != "azure" || clouds[1].Kind != "memvault" ||
		clouds[1].Address != "mem://moon-1" || clouds[1].Geography != "moon-1" {
		t.Fatalf("cloud sources %+v, %v", clouds, err)
	}
	want := []string(v.Capabilities())
	if !slices.Equal(clouds[1].Capabilities, want) || !slices.Contains(clouds[0].Capabilities, engine.CapBackup) {
		t.Errorf("cloud sources capabilities %v and %v, want %v for moon, backup for vault", clouds[1].Capabilities, clouds[0].Capabilities, want)
	}
	srcs, err := c.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, caps := range map[string][]string{"moon": want, "vault": clouds[0].Capabilities} {
		i := slices.IndexFunc(srcs, func(s api.SourceInfo) bool { return s.Name == name })
		if i < 0 || !slices.Equal(srcs[i].Capabilities, caps) {
			t.Fatalf("GET /v1/sources, %s: %+v", name, srcs)
		}
	}

	// The other kind works beside it, through the same routes.
	kw("sync")
	if out := kw("key", "rotate", "vault/orders-kek"); strings.Count(out, "active") != 2 || len(az.Versions("orders-kek")) != 2 {
		t.Errorf("rotate in the azure vault:\n%s", out)
	}
	if out := kw("key", "backup", "vault", "orders-kek"); !strings.Contains(out, "backup") {
		t.Errorf("backup in the azure vault:\n%s", out)
	}

	kw("sync", "--source", "moon")
	if out := kw("key", "create", "moon", "orders-kek", "--type", "EC", "--curve", "P-384", "--tag", "owner=ops"); !strings.Contains(out, "created EC P-384") {
		t.Errorf("create:\n%s", out)
	}
	if out := kw("key", "rotate", "moon/orders-kek"); strings.Count(out, "active") != 2 || v.versions("orders-kek") != 2 {
		t.Errorf("rotate (vault has %d versions):\n%s", v.versions("orders-kek"), out)
	}
	kw("key", "update", "moon", "orders-kek", "--disable")
	// moon updates keys but declares no version-enable: one version is
	// not enabled or disabled alone (it was, through update's capability).
	if code, _, errs := clitest.Run(sock, "key", "update", "moon", "orders-kek", "--version", "1", "--enable"); code == cli.ExitOK || !strings.Contains(errs, "not single versions") {
		t.Errorf("enabling one version in moon: exit %d, %s", code, errs)
	}
	kw("key", "policy", "moon", "orders-kek", "--rotate-after", "90d")
	if out := kw("key", "policy", "moon", "orders-kek"); !strings.Contains(out, "rotate after 90d") {
		t.Errorf("policy: %q", out)
	}
	var list cli.KeysListJSON
	if err := json.Unmarshal([]byte(kw("keys", "list", "--source", "moon", "--json")), &list); err != nil || list.Total != 2 {
		t.Fatalf("inventory after rotate: %d rows, %v", list.Total, err)
	}
	// A kind that deletes whole keys refuses one version, and the key is
	// untouched.
	if code, _, errs := clitest.Run(sock, "key", "delete", "moon", "orders-kek", "--version", "1", "--confirm", "orders-kek"); code == cli.ExitOK ||
		!strings.Contains(errs, "deletes and recovers whole keys, not single versions") || v.versions("orders-kek") != 2 {
		t.Errorf("delete --version on a kind without versions to delete: exit %d: %s", code, errs)
	}
	if code, _, errs := clitest.Run(sock, "key", "recover", "moon", "orders-kek", "--version", "1"); code == cli.ExitOK || !strings.Contains(errs, "not single versions") {
		t.Errorf("recover --version on a kind without versions to recover: exit %d: %s", code, errs)
	}
	if out := kw("key", "delete", "moon", "orders-kek", "--confirm", "orders-kek"); !strings.Contains(out, "deleted") {
		t.Errorf("delete:\n%s", out)
	}
	kw("key", "recover", "moon", "orders-kek")
	kw("key", "delete", "moon", "orders-kek", "--confirm", "orders-kek")
	kw("key", "purge", "moon", "orders-kek", "--confirm", "orders-kek")
	if v.versions("orders-kek") != 0 {
		t.Error("purge left the key in the vault")
	}

	// What the kind does not declare is refused by the daemon, with the
	// reason, and never reaches the connector.
	before := len(v.callList())
	if code, _, errs := clitest.Run(sock, "key", "upload", "moon", "byok", "--type", "EC", "--curve", "P-256"); code == cli.ExitOK || !strings.Contains(errs, `memvault source "moon" cannot upload`) {
		t.Errorf("upload to a kind without upload: exit %d %q", code, errs)
	}
	kw("key", "create", "moon", "keep", "--type", "RSA", "--size", "2048")
	if code, _, errs := clitest.Run(sock, "key", "backup", "moon", "keep"); code == cli.ExitOK || !strings.Contains(errs, `cannot backup`) {
		t.Errorf("backup of a kind without backup: exit %d %q", code, errs)
	}
	if calls := v.callList()[before:]; !slices.Equal(calls, []string{"create"}) {
		t.Errorf("the connector was called for refused operations: %v", calls)
	}

	// The activity log holds every operation done through keyward, by
	// the caller, in this source.
	rep, err := c.ActivityReport(ctx, api.ReportQuery{Source: "moon", Origin: "keyward", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, ev := range rep.Events {
		if ev.Actor == "" {
			t.Errorf("event %s names no actor", ev.Operation)
		}
		ops = append(ops, ev.Operation)
	}
	slices.Reverse(ops)
	for _, op := range []string{"created", "rotated", "disabled", "deleted", "recovered", "purged"} {
		if !slices.Contains(ops, op) {
			t.Errorf("activity lacks %q: %v", op, ops)
		}
	}
}
