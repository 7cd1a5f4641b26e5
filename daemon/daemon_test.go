package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/azure"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/daemon/sources/seed"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

type running struct {
	socket string
	cfg    *config.Config
	stop   func() error
}

// start runs a real daemon in-process on a real Unix socket and a real
// SQLite file in a temp dir, with the seed source.
func start(t testing.TB, mutate func(*config.Config)) *running {
	t.Helper()
	cfg := testConfig(t)
	if mutate != nil {
		mutate(cfg)
	}
	return startCfg(t, cfg)
}

// testConfig is the default configuration in a new temporary data dir,
// its socket in a folder of its own.
func testConfig(t testing.TB) *config.Config {
	dir := t.TempDir()
	cfg := configIn(dir)
	cfg.Socket = filepath.Join(dir, "sock", "keyward.sock")
	return cfg
}

// configIn is the default configuration with everything of the daemon's
// in dir: the data directory dir/data and the socket dir/keyward.sock
// (daemontest.NewConfig, which this package's tests cannot import).
func configIn(dir string) *config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Socket = filepath.Join(dir, "keyward.sock")
	return cfg
}

func startCfg(t testing.TB, cfg *config.Config) *running {
	t.Helper()
	return startOpts(t, cfg, Options{})
}

// startOpts is startCfg with options (limits, mounts, extra sources); the
// seed source is always there.
func startOpts(t testing.TB, cfg *config.Config, opts Options) *running {
	t.Helper()
	opts.Sources = append([]sources.Source{seed.New("acme-kms", seed.AcmeKeys("acme-kms", time.Now()))}, opts.Sources...)
	r := run(t, cfg, opts)
	waitKeys(t, api.NewClient(r.socket), 12)
	return r
}

// run runs a real daemon in-process with cfg and opts (a discarding
// logger unless opts has one) on its real socket and database, and
// returns once it serves; it stops when the test ends (or at r.stop).
// The seed source is not added: the daemon has cfg's sources only.
func run(t testing.TB, cfg *config.Config, opts Options) *running {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	d := testkit.Start(t, "the daemon", 30*time.Second, func(ctx context.Context, ready func(string)) error {
		opts.Ready = ready
		return Run(ctx, cfg, opts)
	})
	return &running{socket: cfg.SocketPath(), cfg: cfg, stop: d.Stop}
}

func waitKeys(t testing.TB, c *api.Client, n int) {
	t.Helper()
	var st *api.Status
	var err error
	testkit.Eventually(t, 20*time.Second, fmt.Sprintf("the inventory to reach %d keys", n), func() bool {
		st, err = c.Status(context.Background())
		return err == nil && st.Keys >= n
	}, func() string { return fmt.Sprintf("%+v (%v)", st, err) })
}

// sourceNamed is the row of GET /v1/sources for source name, nil where the
// daemon lists none of that name; a failed request fails t.
func sourceNamed(ctx context.Context, t testing.TB, c *api.Client, name string) *api.SourceInfo {
	t.Helper()
	srcs, err := c.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range srcs {
		if srcs[i].Name == name {
			return &srcs[i]
		}
	}
	return nil
}

func get(t *testing.T, socket, path string, hdr map[string]string) (int, map[string]any) {
	t.Helper()
	c := testkit.UnixClient(socket)
	req, _ := http.NewRequest(http.MethodGet, "http://keyward"+path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: answer is not JSON: %q", path, b)
	}
	return resp.StatusCode, body
}

func TestSocketAPIServesInventory(t *testing.T) {
	r := start(t, nil)
	c := api.NewClient(r.socket)
	ctx := context.Background()
	p, err := c.Keys(ctx, api.KeyQuery{Source: "acme-kms", Sort: "name"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 12 || p.Keys[0].Name != "acme.backup.kek" {
		t.Fatalf("total=%d first=%s", p.Total, p.Keys[0].Name)
	}
	for _, k := range p.Keys {
		if k.Aging == nil {
			t.Fatalf("key %s served without aging", k.ID)
		}
	}
	exp, err := c.Keys(ctx, api.KeyQuery{Aging: "expired"})
	if err != nil || exp.Total != 2 {
		t.Fatalf("expired keys = %d, %v; want acme.crm.key.3 and acme.legacy.token", exp.Total, err)
	}
	d, err := c.Key(ctx, "acme-kms/acme.crm.key.5")
	if err != nil || d.Key.State != engine.StateActive || len(d.Activity) == 0 || d.Activity[0].Operation != engine.OpDiscovered {
		t.Fatalf("detail = %+v, %v", d, err)
	}

	code, body := get(t, r.socket, "/v1/keys?state=shiny", nil)
	if code != 400 || body["code"] != "bad_request" || !strings.Contains(body["message"].(string), "unknown key state") {
		t.Fatalf("bad state: %d %v", code, body)
	}
	code, body = get(t, r.socket, "/v1/keys?sauce=1", nil)
	if code != 400 || !strings.Contains(body["message"].(string), `unknown query parameter "sauce"`) {
		t.Fatalf("unknown param: %d %v", code, body)
	}
	code, body = get(t, r.socket, "/v1/keys/acme-kms/nope", nil)
	if code != 404 || body["code"] != "not_found" {
		t.Fatalf("missing key: %d %v", code, body)
	}
	code, _ = get(t, r.socket, "/v2/keys", nil)
	if code != 404 {
		t.Fatalf("unknown endpoint: %d", code)
	}
	code, body = get(t, r.socket, "/v1/status", map[string]string{"Origin": "https://evil.example"})
	if code != 403 || !strings.Contains(body["message"].(string), "browsers are refused") {
		t.Fatalf("browser origin: %d %v", code, body)
	}
	code, _ = get(t, r.socket, "/v1/status", map[string]string{"Referer": "https://evil.example/page"})
	if code != 403 {
		t.Fatalf("browser referer: %d", code)
	}
}

func TestEventStreamPushesChanges(t *testing.T) {
	r := start(t, nil)
	c := api.NewClient(r.socket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan api.Notification, 16)
	go c.Watch(ctx, func(n api.Notification) { got <- n })
	first := <-got
	if first.Type != api.NoteHello || first.Status == nil || first.Status.Keys != 12 {
		t.Fatalf("first notification = %+v", first)
	}
	if err := c.Do(ctx, http.MethodPost, "/sync", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case n := <-got:
			if n.Seq <= first.Seq {
				t.Fatalf("notification %+v after a hello at seq %d: sequence did not move", n, first.Seq)
			}
			if n.Type == api.NoteActivity && n.Event.Operation == engine.OpSynced {
				if n.Event.Actor == "" || n.Event.Origin != engine.OriginKeyward {
					t.Fatalf("sync event lacks its caller: %+v", n.Event)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no activity notification after a sync")
		}
	}
}

func TestOneDaemonPerSocketAndDataDir(t *testing.T) {
	r := start(t, nil)
	// Same socket, other data dir: refused because someone answers.
	cfg := configIn(t.TempDir())
	cfg.Socket = r.socket
	err := Run(context.Background(), cfg, Options{Logger: discardLogger()})
	if !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("second daemon on the same socket: %v", err)
	}
	// Same data dir, other socket: refused by the lock.
	cfg2 := configIn(t.TempDir())
	cfg2.DataDir = r.cfg.DataDir
	err = Run(context.Background(), cfg2, Options{Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "in use by another keyward daemon (pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second daemon on the same data dir: %v", err)
	}
	if _, err := os.Stat(cfg2.Socket); err == nil {
		t.Fatal("refused daemon left a socket behind")
	}
	// The first daemon still serves.
	if _, err := api.NewClient(r.socket).Status(context.Background()); err != nil {
		t.Fatalf("first daemon disturbed: %v", err)
	}
}

func TestStaleSocketIsReplacedAndRemovedOnStop(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "keyward.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close() // a crashed daemon's leftover
	r := start(t, func(c *config.Config) { c.Socket = sock })
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode = %v, %v; want 0660", fi.Mode().Perm(), err)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("clean stop returned %v", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after stop: %v", err)
	}
	// A regular file at the socket path is never deleted.
	os.WriteFile(sock, []byte("precious"), 0o600)
	cfg := configIn(filepath.Join(dir, "d2"))
	cfg.Socket = sock
	if err := Run(context.Background(), cfg, Options{Logger: discardLogger()}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file at socket path: %v", err)
	}
}

func TestRoleMapping(t *testing.T) {
	r := Roles{DaemonUID: 1000, AdminGID: 50, UserGID: 60, Groups: func(uid int) []int {
		return map[int][]int{2001: {60, 7}, 2002: {50}, 2003: {7}}[uid]
	}}
	cases := []struct {
		uid, gid int
		want     api.Role
	}{
		{0, 0, api.RoleAdmin},       // root
		{1000, 1000, api.RoleAdmin}, // the daemon's own user
		{2000, 50, api.RoleAdmin},   // primary group admin
		{2002, 100, api.RoleAdmin},  // supplementary admin
		{2001, 100, api.RoleUser},   // supplementary user
		{2004, 60, api.RoleUser},    // primary group user
		{2003, 100, api.RoleNone},   // neither
		{65534, 65534, api.RoleNone},
	}
	for _, c := range cases {
		if got := r.Role(c.uid, c.gid); got != c.want {
			t.Errorf("uid %d gid %d: role %q, want %q", c.uid, c.gid, got, c.want)
		}
	}
	none := Roles{DaemonUID: 1000, AdminGID: -1, UserGID: -1}
	if got := none.Role(2000, 100); got != api.RoleNone {
		t.Errorf("with no groups configured, a stranger got %q", got)
	}
}

// openUpTo makes dir and its parents inside the temporary directory
// traversable by nobody (mode 0755), and nothing above it: with TMPDIR
// elsewhere than /tmp (/var/tmp, a home) the walk stopped only at /tmp or
// /, and would have made /var/tmp or a home 0755.
func openUpTo(dir string) {
	top := filepath.Clean(os.TempDir())
	for p := filepath.Clean(dir); p != top && strings.HasPrefix(p, top+string(filepath.Separator)); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
}

// TestPeerCredentialsFromAnotherUser connects from a child process running
// as nobody (CI runs as root, so it can switch), and checks what the kernel's
// SO_PEERCRED makes of it: refused outside the groups, read-only as a user.
func TestPeerCredentialsFromAnotherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run a child as nobody (CI runs as root)")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no nobody user on this machine")
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	grp, err := user.LookupGroupId(nobody.Gid)
	if err != nil {
		t.Skip("nobody's group has no name")
	}
	// A copy of curl-like client: this test binary, executable by nobody.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	exe := filepath.Join(dir, "client")
	self, _ := os.Executable()
	b, _ := os.ReadFile(self)
	os.WriteFile(exe, b, 0o755)
	openUpTo(dir)

	asNobody := func(socket, method, path string) (int, string) {
		cmd := exec.Command(exe, "-test.run=TestHelperClient")
		cmd.Env = []string{"KEYWARD_HELPER_CLIENT=1", "SOCK=" + socket, "METHOD=" + method, "URLPATH=" + path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client as nobody: %v\n%s", err, out)
		}
		var code int
		var body string
		fmt.Sscanf(string(out), "%d", &code)
		if i := strings.Index(string(out), "\n"); i > 0 {
			body = string(out)[i+1:]
		}
		return code, body
	}
	socketDir := func() string {
		d := filepath.Join(t.TempDir(), "run")
		os.MkdirAll(d, 0o755)
		openUpTo(d)
		return filepath.Join(d, "keyward.sock")
	}

	// nobody may reach the socket (its group owns it) but is in no role.
	r := start(t, func(c *config.Config) {
		c.Socket = socketDir()
		c.Access = config.Access{AdminGroup: "keyward-admin-none", UserGroup: "keyward-user-none", SocketGroup: grp.Name}
	})
	code, body := asNobody(r.socket, "GET", "/v1/keys")
	if code != 403 || !strings.Contains(body, "not in the keyward user or admin group") {
		t.Fatalf("stranger: %d %s", code, body)
	}
	r.stop()

	// nobody's group is the user group: may read, may not change.
	r = start(t, func(c *config.Config) {
		c.Socket = socketDir()
		c.Access = config.Access{AdminGroup: "keyward-admin-none", UserGroup: grp.Name}
	})
	code, body = asNobody(r.socket, "GET", "/v1/keys")
	if code != 200 || !strings.Contains(body, "acme.crm.key.5") {
		t.Fatalf("user reading keys: %d %.200s", code, body)
	}
	code, body = asNobody(r.socket, "GET", "/v1/status")
	if code != 200 || !strings.Contains(body, `"role": "user"`) || !strings.Contains(body, `"user": "nobody"`) {
		t.Fatalf("status as user: %d %.300s", code, body)
	}
	code, body = asNobody(r.socket, "POST", "/v1/sync")
	if code != 403 || !strings.Contains(body, "needs the admin role") {
		t.Fatalf("user syncing: %d %s", code, body)
	}
	ev, _ := api.NewClient(r.socket).Keys(context.Background(), api.KeyQuery{})
	if ev.Total != 12 {
		t.Fatalf("inventory changed by a refused call: %d", ev.Total)
	}
}

// TestHelperClient is the client the peer-credential test runs as nobody.
func TestHelperClient(t *testing.T) {
	if os.Getenv("KEYWARD_HELPER_CLIENT") != "1" {
		t.Skip("helper process for TestPeerCredentialsFromAnotherUser")
	}
	sock := os.Getenv("SOCK")
	c := testkit.UnixClient(sock)
	req, _ := http.NewRequest(os.Getenv("METHOD"), "http://keyward"+os.Getenv("URLPATH"), nil)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Printf("0\n%v", err)
		os.Exit(0)
	}
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d\n%s", resp.StatusCode, b)
	os.Exit(0)
}

// TestRouteWritesAreAudited: the activity a state-changing route reports
// (localapi.Record) is recorded with the caller; a GET's is not.
func TestRouteWritesAreAudited(t *testing.T) {
	ctx := context.Background()
	h := func(w http.ResponseWriter, r *http.Request) error {
		if r.URL.Query().Get("fail") != "" {
			return &api.Error{Status: http.StatusBadRequest, Code: api.CodeBadRequest, Message: "no"}
		}
		localapi.Record(r, engine.Event{Operation: "thing-changed", Source: "src", Details: r.URL.Path})
		return localapi.WriteJSON(w, map[string]string{"ok": "yes"})
	}
	params := []api.Param{api.TextParam("fail")}
	r := run(t, configIn(t.TempDir()), Options{Routes: []localapi.Route{
		{Method: http.MethodPost, Pattern: "/v1/thing/{x}", Role: api.RoleAdmin, Params: params, Serve: h},
		{Method: http.MethodGet, Pattern: "/v1/thing/{x}", Role: api.RoleUser, Serve: h}}})
	c := api.NewClient(r.socket)
	if err := c.Do(ctx, http.MethodPost, "/thing/a", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, http.MethodPost, "/thing/b", url.Values{"fail": {"1"}}, nil, nil); err == nil {
		t.Fatal("failing handler answered 2xx")
	}
	if err := c.Do(ctx, http.MethodGet, "/thing/c", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	var p api.EventsPage
	if err := c.Do(ctx, http.MethodGet, "/activity", url.Values{"operation": {"thing-changed"}}, nil, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 1 || p.Events[0].Details != "/v1/thing/a" || p.Events[0].Actor == "" || p.Events[0].Origin != engine.OriginKeyward {
		t.Fatalf("audited events %+v: want exactly the successful POST, with its caller", p.Events)
	}
}

// TestBadFeatureConfigFailsCleanly: a KEK file that does not exist, or
// that others may read, stops the start with a message naming it (the
// daemon loads it once for every source), and leaves no socket behind.
func TestBadFeatureConfigFailsCleanly(t *testing.T) {
	t.Run("missing", func(t *testing.T) { badKEKStart(t, "missing-kek", nil) })
	t.Run("loose", func(t *testing.T) {
		badKEKStart(t, "chmod 600", func(p string) {
			if err := kek.Generate(p); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, 0o644)
		})
	})
}

func badKEKStart(t *testing.T, want string, prepare func(kekFile string)) {
	dir := t.TempDir()
	cfg := configIn(dir)
	cfg.Keys.KEKFile = filepath.Join(dir, "missing-kek")
	if prepare != nil {
		prepare(cfg.Keys.KEKFile)
	}
	cfg.AddSource("azure", &azure.Settings{Name: "v", VaultURL: "https://127.0.0.1:1", Credential: azure.CredEmulator,
		TokenFile: filepath.Join(dir, "token")})
	os.WriteFile(filepath.Join(dir, "token"), []byte("t"), 0o600)
	err := Run(context.Background(), cfg, Options{Logger: discardLogger()})
	if err == nil || !strings.Contains(err.Error(), "keys.kek_file") || !strings.Contains(err.Error(), want) {
		t.Fatalf("start with a bad KEK: %v, want %q", err, want)
	}
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Fatalf("a failed start left its socket: %v", err)
	}
}

// Whatever the umask (000 here), what the daemon creates in its data dir
// is its user's only: the database, its WAL and shared memory, the lock
// file are 0600, the dir 0700; the socket beside them is 0660 on purpose
// (its group may call).
func TestDataDirFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	// Files an older version left readable by others are tightened too.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"keyward.db", "keyward.lock"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := start(t, func(c *config.Config) { c.DataDir = dir; c.Socket = "" })
	if filepath.Dir(r.socket) != dir {
		t.Fatalf("socket %s is not in the data dir %s", r.socket, dir)
	}
	check := func(when string) {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			seen[e.Name()] = true
			want := os.FileMode(0o600)
			switch {
			case fi.Mode()&os.ModeSocket != 0:
				want = 0o660
			case fi.IsDir():
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: %s is %v, want %v", when, e.Name(), fi.Mode().Perm(), want)
			}
		}
		for _, name := range []string{"keyward.db", "keyward.lock"} {
			if !seen[name] {
				t.Errorf("%s: no %s in the data dir (found %v)", when, name, seen)
			}
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: data dir mode %v, %v; want 0700", when, fi.Mode().Perm(), err)
		}
	}
	check("running")
	if _, err := os.Stat(filepath.Join(dir, "keyward.db-wal")); err != nil {
		t.Errorf("no WAL while running (the check would miss it): %v", err)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	check("stopped")
}
