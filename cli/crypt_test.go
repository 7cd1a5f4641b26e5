package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/localapi"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/daemon/proxy/proxytest"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
	"github.com/keyward/keyward/engine/keyring/keyringtest"
)

// cryptSocket serves the proxy's socket routes on a real Unix socket, with
// the caller's role fixed (the daemon derives it from peer credentials).
func cryptSocket(t *testing.T, role api.Role) string {
	t.Helper()
	sock, _ := cryptSocketWith(t, role, nil)
	return sock
}

// cryptSocketWith also returns the rings (to rotate them) and records the
// proxy's activity events in rec when given.
func cryptSocketWith(t *testing.T, role api.Role, rec proxy.Recorder) (string, *keyring.Rings) {
	t.Helper()
	rings := keyringtest.OneGeneration(t, "crm")
	m, err := proxy.NewManager(config.Proxy{Apps: []config.ProxyApp{{Name: "crm", Listen: "127.0.0.1:0", Upstream: "http://127.0.0.1:1"}}}, rings, rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The socket API as the daemon serves it: its audit hook hands the
	// activity of each request to rec, as the daemon's writes it to the log.
	h := localapi.New(localapi.Services{Proxy: m, Audit: func(ctx context.Context, a localapi.Action) {
		for _, ev := range a.Events {
			if rec != nil {
				rec.Event(ctx, ev.Event)
			}
		}
	}})
	sock := testkit.ServeUnix(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(api.WithCaller(r.Context(), api.Caller{User: "alice", Role: role})))
	}))
	return sock, rings
}

func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Execute(context.Background(), args, &App{Out: &out, Err: &errb, In: strings.NewReader(stdin)})
	return code, out.String(), errb.String()
}

func TestEncryptDecryptCommands(t *testing.T) {
	admin := cryptSocket(t, api.RoleAdmin)
	code, tok, errs := runIn(t, "123-45-6789", "--socket", admin, "encrypt", "--app", "crm")
	if code != ExitOK || !strings.HasPrefix(tok, "kw1gt.") || !strings.HasSuffix(tok, "\n") {
		t.Fatalf("encrypt: %d %q %s", code, tok, errs)
	}
	code, det1, _ := runIn(t, "a@x.io", "--socket", admin, "encrypt", "--app", "crm", "--deterministic")
	_, det2, _ := runIn(t, "a@x.io", "--socket", admin, "encrypt", "--app", "crm", "--deterministic")
	if code != ExitOK || det1 != det2 || !strings.HasPrefix(det1, "kw1st.") {
		t.Fatalf("deterministic: %q %q", det1, det2)
	}
	code, pt, errs := runIn(t, tok, "--socket", admin, "decrypt", "--app", "crm")
	if code != ExitOK || pt != "123-45-6789" {
		t.Fatalf("decrypt: %d %q %s", code, pt, errs)
	}
	// A record as the cloud holds it.
	code, pt, _ = runIn(t, `{"ssn":"`+strings.TrimSpace(tok)+`","email":"`+strings.TrimSpace(det1)+`"}`, "--socket", admin, "decrypt", "--app", "crm")
	if code != ExitOK || pt != `{"ssn":"123-45-6789","email":"a@x.io"}` {
		t.Fatalf("decrypt record: %q", pt)
	}
	// Altered token: fails, says why, prints nothing.
	bad := strings.TrimSpace(tok)
	bad = bad[:len(bad)-2] + "AA"
	code, pt, errs = runIn(t, bad, "--socket", admin, "decrypt", "--app", "crm")
	if code != ExitError || pt != "" || !strings.Contains(errs, "tampered") {
		t.Fatalf("tampered: exit %d (want %d, an error, not usage) %q %q", code, ExitError, pt, errs)
	}
	// A token of a generation this ring never had (another daemon's key):
	// an error too, not a usage mistake.
	other := cryptSocket(t, api.RoleAdmin)
	_, foreign, _ := runIn(t, "123-45-6789", "--socket", other, "encrypt", "--app", "crm")
	code, pt, errs = runIn(t, foreign, "--socket", admin, "decrypt", "--app", "crm")
	if code != ExitError || pt != "" || !strings.Contains(errs, "could not be decrypted") {
		t.Fatalf("unknown generation: exit %d (want %d) %q %q", code, ExitError, pt, errs)
	}
	// Input over the limit is refused as such (413): an error.
	code, _, errs = runIn(t, strings.Repeat("a", proxy.MaxCryptInput+1), "--socket", admin, "encrypt", "--app", "crm")
	if code != ExitError || !strings.Contains(errs, "larger than") {
		t.Fatalf("too large: exit %d (want %d) %q", code, ExitError, errs)
	}
	code, _, errs = runIn(t, "x", "--socket", admin, "encrypt")
	if code != ExitUsage || !strings.Contains(errs, "--app is required") {
		t.Fatalf("no --app: %d %s", code, errs)
	}
	// A user may encrypt but not decrypt (default config).
	user := cryptSocket(t, api.RoleUser)
	if code, _, _ := runIn(t, "x", "--socket", user, "encrypt", "--app", "crm"); code != ExitOK {
		t.Fatalf("user encrypt: %d", code)
	}
	code, _, errs = runIn(t, tok, "--socket", user, "decrypt", "--app", "crm")
	if code != ExitError || !strings.Contains(errs, "allow_user_decrypt") {
		t.Fatalf("user decrypt: %d %s", code, errs)
	}
}

// TestRewrapCommand: after a rotation, keyward rewrap turns a record's
// tokens into tokens of the newest generation holding the same values
// (the deterministic one still equal to a fresh deterministic token), for
// admins only, recorded in the activity log; a bad token fails the
// command, naming its position.
func TestRewrapCommand(t *testing.T) {
	rec := &proxytest.Recorder{}
	admin, rings := cryptSocketWith(t, api.RoleAdmin, rec)
	enc := func(v string, det bool) string {
		args := []string{"--socket", admin, "encrypt", "--app", "crm"}
		if det {
			args = append(args, "--deterministic")
		}
		code, tok, errs := runIn(t, v, args...)
		if code != ExitOK {
			t.Fatalf("encrypt: %s", errs)
		}
		return strings.TrimSpace(tok)
	}
	ssn, email := enc("123-45-6789", false), enc("a@x.io", true)
	oldID, _, _ := rings.EncryptionKey("crm")
	k2 := make([]byte, 32)
	rand.Read(k2)
	ring, _ := rings.Ring("crm")
	if _, err := rings.Apply("crm", []keyring.Candidate{{UID: "1", Name: "crm.key.1", State: engine.StateActive},
		{UID: "2", Name: "crm.key.2", State: engine.StateActive, Material: k2}}); err != nil || len(ring.Gens) != 1 {
		t.Fatal(err)
	}
	newID, _, _ := rings.EncryptionKey("crm")
	record := `{"ssn":"` + ssn + `","email":"` + email + `","name":"Ann"}`
	code, out, errs := runIn(t, record, "--socket", admin, "rewrap", "--app", "crm")
	if code != ExitOK || strings.Contains(out, "."+oldID+".") || strings.Count(out, "."+newID+".") != 2 || !strings.Contains(out, `"name":"Ann"`) {
		t.Fatalf("rewrap: %d %q %s", code, out, errs)
	}
	if !strings.Contains(out, `"email":"`+enc("a@x.io", true)+`"`) {
		t.Fatalf("the deterministic token is not deterministic under the new generation: %s", out)
	}
	code, pt, _ := runIn(t, out, "--socket", admin, "decrypt", "--app", "crm")
	if code != ExitOK || pt != `{"ssn":"123-45-6789","email":"a@x.io","name":"Ann"}` {
		t.Fatalf("rewrapped record opens to %q", pt)
	}
	ev := rec.EventsWith(engine.OpRewrapped)
	if len(ev) != 1 || !strings.Contains(ev[0].Details, "re-encrypted 2 tokens under key id "+newID) || !strings.Contains(ev[0].Details, "2 from "+oldID) {
		t.Fatalf("activity %+v", ev)
	}
	// A tampered token: exit 1, its position named, nothing written.
	bad := ssn[:len(ssn)-2] + "AA"
	if bad == ssn {
		bad = ssn[:len(ssn)-2] + "BB"
	}
	code, out, errs = runIn(t, "ok\n  "+bad, "--socket", admin, "rewrap", "--app", "crm")
	if code != ExitError || out != "" || !strings.Contains(errs, "token 1 (line 2, column 3)") || !strings.Contains(errs, "tampered") {
		t.Fatalf("tampered: %d %q %q", code, out, errs)
	}
	if ev := rec.EventsWith(engine.OpRewrapped); len(ev) != 2 || ev[1].Severity != engine.SeverityWarn {
		t.Fatalf("the refused rewrap is not recorded: %+v", ev)
	}
	// Users may not rewrap.
	user := cryptSocket(t, api.RoleUser)
	if code, _, errs := runIn(t, record, "--socket", user, "rewrap", "--app", "crm"); code != ExitError || !strings.Contains(errs, "POST /v1/rewrap needs the admin role") {
		t.Fatalf("user rewrap: %d %s", code, errs)
	}
	if code, _, errs := runIn(t, record, "--socket", admin, "rewrap"); code != ExitUsage || !strings.Contains(errs, "--app is required") {
		t.Fatalf("no --app: %d %s", code, errs)
	}
}
