package kmip

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/ovh/kmip-go"

	"github.com/keyward/keyward/engine"
)

func TestGrouped(t *testing.T) {
	leaf := &x509.Certificate{Subject: pkix.Name{CommonName: "keyward"}, SerialNumber: big.NewInt(0xbeef)}
	denied := "cannot fetch the key material: the KMS refused Get: PermissionDenied"
	for _, tc := range []struct {
		items []string
		want  string
	}{
		{[]string{"k.1: " + denied}, "k.1: " + denied + "; the KMS does not let the client identity \"CN=keyward\" (serial BEEF) use them"},
		{[]string{"k.1: gone", "k.2: gone", "k.3: bad"}, "gone for 2 keys (e.g. k.1, k.2); k.3: bad"},
		{[]string{"k.1: x", "k.2: x", "k.3: x", "k.4: x"}, "x for 4 keys (e.g. k.1, k.2, k.3, …)"},
		{[]string{"no colon"}, "no colon"},
	} {
		if got := grouped(tc.items, leaf); !strings.HasPrefix(got, tc.want) {
			t.Errorf("grouped(%q) = %q, want it to start with %q", tc.items, got, tc.want)
		}
	}
}

// TestManyRefusalsMakeOneShortReason: a KMS that refuses the Get of 19
// keys makes a health reason that says so once, names a few, and points at
// the client identity, instead of one clause per key.
func TestManyRefusalsMakeOneShortReason(t *testing.T) {
	b := embeddedBackend(t)
	var uids []string
	for i := 1; i <= 19; i++ {
		uids = append(uids, b.create(t, fmt.Sprintf("acme.crm.key.%d", i)))
	}
	for _, u := range uids {
		b.embedded.SetRefusal(kmip.OperationGet, u, true)
	}
	app := crmApp
	app.Generations = 19
	e := newEnv(t, b, "", nil, app)
	st := e.mustPoll()
	if len(st.LeftOut) != 19 {
		t.Fatalf("left out %d, want 19: %+v", len(st.LeftOut), st)
	}
	srcs, _ := e.st.Sources(context.Background())
	h := srcs[0]
	if h.Health != engine.HealthDegraded || !strings.Contains(h.Reason, "PermissionDenied for 19 keys (e.g. acme.crm.key.") ||
		!strings.Contains(h.Reason, `client identity "CN=keyward`) {
		t.Fatalf("health reason: %q", h.Reason)
	}
	if n := strings.Count(h.Reason, "PermissionDenied"); n != 1 || len(h.Reason) > 600 {
		t.Fatalf("the reason says PermissionDenied %d times in %d characters: %q", n, len(h.Reason), h.Reason)
	}
}

// FuzzGrouped: any clauses (names and reasons with colons, empty ones,
// invalid UTF-8) group without a panic, and every reason is still said.
func FuzzGrouped(f *testing.F) {
	f.Add("k.1: gone\nk.2: gone\nk.3: the KMS refused Get: PermissionDenied")
	f.Add(": \n\n:")
	f.Fuzz(func(t *testing.T, in string) {
		items := strings.Split(in, "\n")
		out := grouped(items, nil)
		for _, it := range items {
			_, why, ok := strings.Cut(it, ": ")
			if !ok {
				why = it
			}
			if !strings.Contains(out, why) {
				t.Fatalf("grouped(%q) = %q lost %q", items, out, why)
			}
		}
	})
}
