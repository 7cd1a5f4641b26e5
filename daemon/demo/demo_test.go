package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// TestHeadlessDemoEndToEnd runs the whole demo stack — embedded KMIP server
// over mutual TLS, emulated Azure vault over HTTPS, the daemon, the proxy
// and the demo app with live traffic — and checks what a new user is told
// to try: keys from both sources, ciphertext upstream, plaintext through
// the proxy.
func TestHeadlessDemoEndToEnd(t *testing.T) {
	ctx := context.Background()
	var banner testkit.Buffer
	c := startDemo(t, Options{Out: &banner, Poll: time.Second, Rotate: time.Hour, Rate: 20})
	deadline := time.Now().Add(30 * time.Second)
	var st *api.Status
	for time.Now().Before(deadline) {
		s, err := c.Status(ctx)
		healthy, kinds := err == nil, 0
		for i := 0; healthy && i < len(s.Sources); i++ {
			if s.Sources[i].Kind != "schedule" {
				kinds++
				healthy = s.Sources[i].Health == "ok"
			}
		}
		if healthy && kinds == 4 && s.Keys >= 26 {
			st = s
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st == nil {
		s, err := c.Status(ctx)
		t.Fatalf("sources never both healthy: %+v %v", s, err)
	}
	for _, src := range []string{"acme-kms", "azure-demo", "gcp-demo", "aws-demo"} {
		p, err := c.Keys(ctx, api.KeyQuery{Source: src})
		if err != nil || p.Total == 0 {
			t.Fatalf("no keys from %s: %v", src, err)
		}
	}
	// The Google Cloud project: keys of every purpose, versions in every
	// state.
	gk, err := c.Keys(ctx, api.KeyQuery{Source: "gcp-demo", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	purposes, states := map[string]bool{}, map[string]bool{}
	for _, k := range gk.Keys {
		purposes[k.Tags["gcp:purpose"]] = true
		states[k.Tags["gcp:state"]] = true
	}
	for _, want := range []string{"ENCRYPT_DECRYPT", "ASYMMETRIC_SIGN", "ASYMMETRIC_DECRYPT", "MAC"} {
		if !purposes[want] {
			t.Errorf("the demo's Google keys lack purpose %s: %v", want, purposes)
		}
	}
	for _, want := range []string{"ENABLED", "DISABLED", "DESTROY_SCHEDULED", "DESTROYED", "IMPORT_FAILED"} {
		if !states[want] {
			t.Errorf("the demo's Google versions lack state %s: %v", want, states)
		}
	}
	// And a day of use by other workloads, from its audit log.
	gapps := usageApps(t, c, api.ReportQuery{From: "-2d", To: "+1d", Source: "gcp-demo"})
	if !gapps["orders-api@acme-prod-kms.iam.gserviceaccount.com"] || !gapps["webhooks@acme-prod-kms.iam.gserviceaccount.com"] {
		t.Errorf("the demo's Google usage: %v", gapps)
	}
	// The AWS account: a key of every kind and state, the rotation
	// history of the key with automatic rotation in its activity.
	awsKeys, err := c.Keys(ctx, api.KeyQuery{Source: "aws-demo", Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, k := range awsKeys.Keys {
		kinds[k.Tags["aws:aliases"]] = k.Algorithm + " " + string(k.State) + " " + k.Tags["aws:origin"]
	}
	want := map[string]string{"orders-db": "oct active AWS_KMS", "invoice-signing": "RSA active AWS_KMS", "device-attest": "EC P-256 disabled AWS_KMS",
		"webhook-mac": "HMAC active AWS_KMS", "crm-byok": "oct active EXTERNAL", "old-exports": "oct deleted AWS_KMS"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("the demo's AWS keys: %v\nwant %v", kinds, want)
	}
	for _, k := range awsKeys.Keys {
		if k.Tags["aws:aliases"] != "orders-db" {
			continue
		}
		d, err := c.Key(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range d.Activity {
			if strings.Contains(e.Details, "rotated automatically in AWS") {
				n++
			}
		}
		if n != 2 || !strings.HasPrefix(k.Tags["aws:rotation"], "on") {
			t.Errorf("orders-db: %d automatic rotations in its activity, rotation %q", n, k.Tags["aws:rotation"])
		}
		// 400 days old, but it rotates itself: it ages from its last
		// rotation, and is not overdue.
		if k.Rotated == nil || k.Aging == nil || k.Aging.Bucket != "healthy" {
			t.Errorf("orders-db (created %v, last rotated %v) ages as %+v, want healthy", k.Created, k.Rotated, k.Aging)
		}
	}
	// Its CloudTrail: which service or role used which key, and who
	// changed one in the console.
	apps := usageApps(t, c, api.ReportQuery{From: "-1d", To: "+1d", Source: "aws-demo"})
	for _, want := range []string{"s3.amazonaws.com", "role/orders-api@111122223333", "role/billing-batch@111122223333"} {
		if !apps[want] {
			t.Errorf("the AWS usage report lacks %s: %v", want, apps)
		}
	}
	cmp, err := c.ActivityReport(ctx, api.ReportQuery{Source: "aws-demo", Comparison: true, From: "-1d", To: "+1d", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, e := range cmp.Events {
		seen = seen || strings.Contains(e.Details, "CloudTrail: DisableKey by user/bob@111122223333 from 198.51.100.7")
	}
	if !seen {
		t.Errorf("the AWS activity comparison lacks bob's DisableKey: %+v", cmp.Events)
	}
	// The KMIP source says which KMS answered, in which protocol version,
	// and what its latest poll cost; the vault has no poll details.
	infos, err := c.Sources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		switch in.Name {
		case "acme-kms":
			p := in.Poll
			if p == nil || p.Protocol != "1.4" || !strings.HasPrefix(p.Address, "127.0.0.1:") || p.Matched < 8 || p.Requests == 0 || p.Err != "" {
				t.Fatalf("KMIP poll details %+v", p)
			}
			if s := p.Summary(); !strings.Contains(s, "KMIP 1.4 at "+p.Address) || !strings.Contains(s, "the KMS matches the name patterns") && !strings.Contains(s, "learning") {
				t.Fatalf("poll summary %q", s)
			}
		case "azure-demo":
			if in.Poll != nil {
				t.Fatalf("the vault has KMIP poll details: %+v", in.Poll)
			}
		}
	}
	// Wait for the banner to be written, then read the app and proxy URLs off it.
	var appURL, proxyURL string
	for time.Now().Before(deadline) && proxyURL == "" {
		b := banner.String()
		if m := regexp.MustCompile(`demo app:\s+(\S+)`).FindStringSubmatch(b); m != nil {
			appURL = m[1]
		}
		if m := regexp.MustCompile(`via proxy:\s+(\S+)`).FindStringSubmatch(b); m != nil {
			proxyURL = m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A record written through the proxy is ciphertext upstream and plaintext back.
	body := `{"name":"Test Person","email":"test.person@example.com","ssn":"123-45-6789","card":{"number":"4111 1111 1111 1111","expiry":"01/30"}}`
	resp, err := http.Post(proxyURL+"/records", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created map[string]any
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("create through proxy: %s %v", resp.Status, created)
	}
	id, _ := created["id"].(string)
	upstream := testkit.Get(t, appURL+"/records/"+id)
	if strings.Contains(upstream, "123-45-6789") || strings.Contains(upstream, "4111 1111 1111 1111") || strings.Contains(upstream, "test.person@example.com") {
		t.Fatalf("plaintext reached the upstream: %s", upstream)
	}
	if !strings.Contains(upstream, "kw1") || !strings.Contains(upstream, "Test Person") {
		t.Fatalf("upstream record has no tokens or lost the clear field: %s", upstream)
	}
	through := testkit.Get(t, proxyURL+"/records/"+id)
	if !strings.Contains(through, "123-45-6789") || !strings.Contains(through, "4111 1111 1111 1111") {
		t.Fatalf("proxy did not decrypt: %s", through)
	}
	// The Proxy pane's data: live traffic is being counted.
	ps, err := c.Proxy(ctx)
	if err != nil || len(ps) != 1 || ps[0].Requests == 0 || ps[0].Ring.KeyID == "" {
		t.Fatalf("proxy status %+v %v", ps, err)
	}
}

// startDemo runs the headless demo in a temporary directory until the test
// ends (a stop with an error fails the test) and returns its socket.
// usageApps is who used a source's keys in the usage report q asks for.
func usageApps(t *testing.T, c *api.Client, q api.ReportQuery) map[string]bool {
	t.Helper()
	u, err := c.UsageReport(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	apps := map[string]bool{}
	for _, r := range u.Rows {
		apps[r.App] = true
	}
	return apps
}

// startDemo runs the whole demo stack headless for the length of the test
// (skipped with -short; its banner discarded unless o.Out is set) and
// returns a client of its daemon.
func startDemo(t *testing.T, o Options) *api.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole demo stack")
	}
	o.Headless, o.Dir = true, t.TempDir()
	if o.Out == nil {
		o.Out = io.Discard
	}
	return api.NewClient(testkit.Start(t, "the demo", 60*time.Second, func(ctx context.Context, ready func(string)) error {
		o.Ready = ready
		return Run(ctx, o)
	}).Addr)
}

// TestDemoRotates: what the demo promises a new user — the embedded KMS
// makes a new generation now and then, keyward polls it into the ring, the
// new generation encrypts, the one before only decrypts, and the proxy
// says so in the activity log.
func TestDemoRotates(t *testing.T) {
	ctx := context.Background()
	c := startDemo(t, Options{Poll: time.Second, Rotate: 1500 * time.Millisecond, Rate: 5})
	rings := func() map[string]api.RingInfo { // the rings that hold generations
		out := map[string]api.RingInfo{}
		srcs, _ := c.Sources(ctx)
		for _, s := range srcs {
			for _, r := range s.Rings {
				if len(r.Generations) > 0 {
					out[r.Application] = r
				}
			}
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	var first map[string]api.RingInfo
	for time.Now().Before(deadline) && len(first) < 2 {
		first = rings()
		time.Sleep(100 * time.Millisecond)
	}
	if len(first) < 2 {
		t.Fatalf("the demo's two rings never filled: %+v", first)
	}
	for time.Now().Before(deadline) {
		for app, r := range rings() {
			if len(r.Generations) <= len(first[app].Generations) {
				continue
			}
			if !r.Generations[0].Encrypts || r.Generations[0].Name == first[app].Generations[0].Name {
				t.Fatalf("%s rotated but the newest generation does not encrypt: %+v", app, r.Generations[:2])
			}
			if r.Generations[1].Encrypts || r.Generations[1].Name != first[app].Generations[0].Name {
				t.Fatalf("%s: the generation before should only decrypt now: %+v", app, r.Generations[:2])
			}
			if app != "crm" {
				return // the proxy fronts crm only
			}
			// The rotation is recorded once, by the KMIP source, naming
			// the key; the proxy fronting crm records none of its own.
			for time.Now().Before(deadline) {
				p, _ := c.ActivityReport(ctx, api.ReportQuery{Operation: "rotated", Origin: "source", Limit: 500})
				if p != nil && slices.ContainsFunc(p.Events, func(ev engine.Event) bool {
					return ev.KeyID != "" && strings.Contains(ev.Details, r.Generations[0].Name+" (key id "+r.Generations[0].KeyID+") now encrypts")
				}) {
					if px, _ := c.ActivityReport(ctx, api.ReportQuery{Operation: "rotated", Origin: "proxy"}); px == nil || len(px.Events) > 0 {
						t.Fatalf("the proxy recorded rotations too: %+v", px)
					}
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Fatalf("no rotation of crm to %s recorded", r.Generations[0].Name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no ring gained a generation within 30 s with a rotation every 1.5 s and a poll every second")
}

// TestDemoRewrapAfterRotation: through the real daemon's socket (the
// caller's role from its peer credentials), a token made before a
// rotation comes back from keyward rewrap under the new generation,
// opens to the same value, and the call is in the activity log.
func TestDemoRewrapAfterRotation(t *testing.T) {
	ctx := context.Background()
	c := startDemo(t, Options{Poll: time.Second, Rotate: 1500 * time.Millisecond, Rate: 1})
	o := api.CryptOptions{App: "crm"}
	var tok []byte
	deadline := time.Now().Add(30 * time.Second)
	for ; time.Now().Before(deadline) && tok == nil; time.Sleep(100 * time.Millisecond) {
		tok, _ = c.Encrypt(ctx, o, strings.NewReader("555-72-3661"))
	}
	if tok == nil {
		t.Fatal("the crm ring never encrypted")
	}
	tok = bytes.TrimSpace(tok)
	kid := func(tok []byte) string { return strings.Split(string(tok), ".")[2] }
	var out []byte
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var err error
		if out, err = c.Rewrap(ctx, o, bytes.NewReader(tok)); err != nil {
			t.Fatalf("rewrap: %v", err)
		}
		if kid(out) != kid(tok) {
			break
		}
	}
	if kid(out) == kid(tok) {
		t.Fatal("the crm ring never rotated within 30 s")
	}
	pt, err := c.Decrypt(ctx, o, bytes.NewReader(out))
	if err != nil || string(pt) != "555-72-3661" {
		t.Fatalf("the rewrapped token opens to %q, %v", pt, err)
	}
	p, err := c.ActivityReport(ctx, api.ReportQuery{Operation: "rewrapped"})
	if err != nil || p == nil || len(p.Events) == 0 || !strings.Contains(p.Events[0].Details, "re-encrypted 1 token under key id "+kid(out)) {
		t.Fatalf("activity: %+v %v", p, err)
	}
}

// TestDemoTUIOpensOnEverySourcesKeys: the TUI opens once every key source
// has synced, so its first screen is the top of the whole inventory. It
// used to open as soon as the daemon answered, with only the KMIP keys in:
// the clouds' keys then came in sorted above the selected one, and the
// Keys pane, which follows its selected key, opened on "19–36 of 44 keys".
func TestDemoTUIOpensOnEverySourcesKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var unsynced []string
	err := Run(ctx, Options{Dir: t.TempDir(), Out: io.Discard, RunTUI: func(ctx context.Context, socket string) error {
		srcs, err := api.NewClient(socket).Sources(ctx)
		if err != nil {
			return err
		}
		for _, s := range srcs {
			if s.Kind != api.ScheduleSourceKind && s.LastSync == nil {
				unsynced = append(unsynced, s.Name)
			}
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(unsynced) > 0 {
		t.Fatalf("the TUI opened before %v had synced: its first screen is not the top of the inventory", unsynced)
	}
}
