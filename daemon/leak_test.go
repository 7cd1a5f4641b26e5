package daemon

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/kek"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine/keyring"
)

// TestPlantedKMIPKeyNeverLeavesTheDaemon plants a known AES key in a KMS
// (the embedded one, over mutual TLS), lets a whole daemon poll it into a
// ring and persist the ring wrapped, then searches every place a key
// administrator or an attacker could read: every GET answer of the socket
// API, the /v1/events stream across a sync, the daemon's debug log, and
// the SQLite files (database, WAL, shared memory). The key's raw bytes and
// its hex and base64 spellings must be in none of them; its fingerprint,
// the safe identity, must be in the API's answers.
func TestPlantedKMIPKeyNeverLeavesTheDaemon(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	srv, err := kms.Start(ctx, kms.Options{Dir: filepath.Join(dir, "kms")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	planted := make([]byte, keyring.KeySize)
	rand.Read(planted)
	c, err := kmipclient.Dial(srv.Addr(), kmipclient.WithRootCAFile(srv.CAFile), kmipclient.WithClientCertFiles(srv.CertFile, srv.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register().WithKeyFormat(kmipclient.RAW).SymmetricKey(kmip.CryptographicAlgorithmAES,
		kmip.CryptographicUsageEncrypt|kmip.CryptographicUsageDecrypt, bytes.Clone(planted)).WithName("acme.crm.key.1").Exec()
	if err == nil {
		_, err = c.Activate(reg.UniqueIdentifier).Exec()
	}
	c.Close()
	if err != nil {
		t.Fatalf("plant the key: %v", err)
	}

	cfg := configIn(dir)
	cfg.LogLevel = "debug"
	cfg.Keys = config.Keys{KEKFile: filepath.Join(dir, "kek"), PersistMaterial: true}
	if err := kek.Generate(cfg.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
	src := srv.SourceConfig("kms", time.Hour)
	src.Applications = []config.Application{{Name: "crm", Pattern: "acme.crm.key.*", Generations: 16}}
	cfg.KMIP = []config.KMIPSource{src}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	d := run(t, cfg, Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})

	hc := testkit.UnixClient(d.socket)
	call := func(method, path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(method, "http://keyward"+path, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return b
	}
	client := api.NewClient(d.socket)
	fp := keyring.Fingerprint(planted)
	testkit.Eventually(t, 20*time.Second, "the daemon to poll the planted key into its inventory", func() bool {
		p, err := client.Keys(ctx, api.KeyQuery{Source: "kms"})
		return err == nil && p.Total == 1 && p.Keys[0].Fingerprint == fp
	}, nil)

	// The event stream, across a sync that re-reads the KMS.
	var stream testkit.Buffer
	sctx, scancel := context.WithCancel(ctx)
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		req, _ := http.NewRequestWithContext(sctx, http.MethodGet, "http://keyward/v1/events", nil)
		resp, err := hc.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			stream.Write(append(sc.Bytes(), '\n'))
		}
	}()
	// The stream is open (its hello read) before the sync, so the sync's
	// notifications are on it.
	testkit.Eventually(t, 20*time.Second, "the event stream's hello", func() bool {
		return bytes.Contains(stream.Bytes(), []byte(`"hello"`))
	}, func() string { return string(stream.Bytes()) })
	call(http.MethodPost, "/v1/sync?source=kms")
	answers := map[string][]byte{}
	for _, p := range []string{"/v1/status", "/v1/keys", "/v1/keys/kms/acme.crm.key.1", "/v1/sources", "/v1/activity",
		"/v1/reports/aging", "/v1/reports/aging/summary", "/v1/reports/activity", "/v1/reports/usage", "/v1/metrics"} {
		answers[p] = call(http.MethodGet, p)
	}
	// The sync's notifications, up to its recorded event, are in.
	testkit.Eventually(t, 20*time.Second, "the sync's activity notification", func() bool {
		return bytes.Contains(stream.Bytes(), []byte(`"operation":"synced"`))
	}, func() string { return string(stream.Bytes()) })
	scancel()
	<-streamDone
	if err := d.stop(); err != nil {
		t.Fatalf("daemon stopped with %v", err)
	}

	if !bytes.Contains(answers["/v1/sources"], []byte(fp)) || !bytes.Contains(answers["/v1/keys"], []byte(fp)) {
		t.Fatal("the API does not show the planted key's fingerprint: the search below would prove nothing")
	}
	if !bytes.Contains(stream.Bytes(), []byte(`"hello"`)) {
		t.Fatalf("the event stream was not read: %q", stream.Bytes())
	}
	hay := map[string][]byte{"daemon log": logs.Bytes(), "event stream": stream.Bytes()}
	for p, b := range answers {
		hay["GET "+p] = b
	}
	for name, b := range testkit.DataFiles(t, cfg.DataDir) {
		hay[name] = b
	}
	testkit.NoLeak(t, "the planted key's material", testkit.Spellings(planted), hay)

	// The audit checkpoint signing key (made at this start, beside the
	// KEK) is in none of them either: only its public half is shown.
	skey, err := os.ReadFile(cfg.SigningKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(strings.TrimSpace(string(skey)), "+", 5)
	seed, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if err != nil || len(seed) != 33 {
		t.Fatalf("signing key file: %q", skey)
	}
	if !bytes.Contains(answers["/v1/status"], []byte(`"verifier_key": "keyward-audit+`)) {
		t.Fatalf("the status does not show the verifier key: the search below would prove nothing: %s", answers["/v1/status"])
	}
	keyForms := map[string][]byte{"key file": bytes.TrimSpace(skey), "seed": seed[1:], "seed base64": []byte(base64.StdEncoding.EncodeToString(seed)),
		"seed hex": []byte(hex.EncodeToString(seed[1:]))}
	for where, b := range hay {
		for form, needle := range keyForms {
			if bytes.Contains(b, needle) {
				t.Errorf("the audit signing key (%s) is in the %s", form, where)
			}
		}
	}
}
