package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/daemontest"
	"github.com/keyward/keyward/daemon/sources"
	"github.com/keyward/keyward/engine"
)

// escapes are what a hostile KMS or cloud account can put in a key's name,
// tags and activity, and in the errors keyward reports of it: an OSC 52
// clipboard write, a screen clear, a line that forges another.
const escapes = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\rhealth   ok\n"

// hostileKMS reports one key whose text holds escapes, and a degraded
// health whose reason (the KMS's words) holds them too.
type hostileKMS struct{ key engine.Key }

func (hostileKMS) Name() string    { return "evil-kms" }
func (hostileKMS) Kind() string    { return "kmip" }
func (hostileKMS) Address() string { return "10.0.0.9:5696" }
func (h hostileKMS) Run(ctx context.Context, sink sources.Sink) error {
	ev := engine.Event{Time: h.key.Created.Add(time.Hour), KeyID: h.key.ID, Source: "evil-kms", Operation: engine.OpEdited,
		Actor: "kms-admin" + escapes, Origin: engine.OriginSource, Severity: engine.SeverityInfo, Details: "renamed" + escapes}
	if err := sink.Apply(ctx, sources.Batch{Source: "evil-kms", Upsert: []engine.Key{h.key}, Events: []engine.Event{ev}}); err != nil {
		return err
	}
	if err := sink.SetHealth(ctx, "evil-kms", engine.HealthDegraded, "Locate failed: "+escapes); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// TestHostileTextIsNotSentToTheTerminal: the text commands print what a
// KMS or cloud said with its control characters made visible (U+FFFD), as
// the TUI draws it, so a key named with an escape sequence cannot write
// the administrator's clipboard, clear the screen or forge a line. keys
// show and status printed them raw.
func TestHostileTextIsNotSentToTheTerminal(t *testing.T) {
	created := fixedNow.AddDate(0, 0, -3)
	name := "acme.crm.key.9" + escapes
	expires := fixedNow.AddDate(0, 0, 10)
	key := engine.Key{ID: engine.KeyID("evil-kms", name, ""), Source: "evil-kms", Name: name, Application: "crm" + escapes,
		Algorithm: "AES" + escapes, Length: 256, State: engine.StateActive, Created: &created, Expires: &expires, Fingerprint: "ab" + escapes,
		LinkedTo: "x" + escapes, Tags: map[string]string{"note" + escapes: "v" + escapes}}
	sock := runDaemon(t, daemontest.NewConfig(t.TempDir()), daemon.Options{Now: func() time.Time { return fixedNow },
		Sources: []sources.Source{hostileKMS{key}}})
	var out string
	for range 300 {
		code, o, _ := runAt(t, "--socket", sock, "status")
		if out = o; code == ExitOK && strings.Contains(out, "degraded") && strings.Contains(out, "evil-kms") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"status"},
		{"keys", "list"},
		{"keys", "show", key.ID},
		{"report", "activity", "--from", "-30d"},
		{"report", "aging", "--from", "-30d", "--to", "+30d"},
	} {
		code, out, errs := runAt(t, append([]string{"--socket", sock}, args...)...)
		if code != ExitOK {
			t.Errorf("keyward %s: exit %d: %s", strings.Join(args, " "), code, errs)
			continue
		}
		if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "\nhealth   ok") {
			t.Errorf("keyward %s printed the KMS's control characters:\n%q", strings.Join(args, " "), out)
		}
		if !strings.Contains(out, "\uFFFD") {
			t.Errorf("keyward %s: the hostile text is not shown at all:\n%s", strings.Join(args, " "), out)
		}
	}
}

// A certificate's subject is a CA's (or a CSR's) words: cert show prints
// it with its control characters made visible.
func TestCertLinesHideControlCharacters(t *testing.T) {
	ci := &api.CertInfo{InUse: &engine.ClientIdentity{Origin: "installed", From: "client.pem", Subject: "CN=evil" + escapes},
		Pending: &engine.PendingKey{Subject: "CN=next" + escapes, KeyType: "ECDSA P-256", Created: fixedNow}}
	ci.Subject, ci.Issuer = "CN=kw"+escapes, "CN=ca"+escapes
	for _, l := range CertLines(ci) {
		if strings.ContainsAny(l, "\x1b\x07\r\n") || !strings.Contains(l, "\uFFFD") {
			t.Errorf("cert line %q", l)
		}
	}
}
