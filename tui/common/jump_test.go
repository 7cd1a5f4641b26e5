package common_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/tui/common"
)

// keysBackend answers GET /v1/keys from a list, by source and q as the
// store matches it (engine.Filter: name, aliases, application …).
type keysBackend struct {
	common.Backend
	keys []engine.Key
}

func (b keysBackend) Keys(ctx context.Context, q api.KeyQuery) (*api.KeysPage, error) {
	var out []engine.Key
	for _, k := range b.keys {
		if (q.Source == "" || k.Source == q.Source) && (engine.Filter{Text: q.Text}).Match(k) {
			out = append(out, k)
		}
	}
	return &api.KeysPage{Keys: out}, nil
}

// A generation's key is found by name, the fingerprint telling apart keys
// of the same name in two sources; a key held without a fingerprint is
// found by name alone; an ambiguous or missing name says so.
func TestFindKey(t *testing.T) {
	b := keysBackend{keys: []engine.Key{
		{ID: "kms-a/acme.crm.key.4/1", Source: "kms-a", Name: "acme.crm.key.4", Fingerprint: "aaaa"},
		{ID: "kms-b/acme.crm.key.4/1", Source: "kms-b", Name: "acme.crm.key.4", Fingerprint: "bbbb"},
		{ID: "kms-a/acme.crm.key.40/1", Source: "kms-a", Name: "acme.crm.key.40", Fingerprint: "bbbb"},
		{ID: "kms-a/acme.hr.key.1/1", Source: "kms-a", Name: "acme.hr.key.1"},
		{ID: "vault/card-kek/6cb1", Source: "vault", Name: "card-kek"},
		{ID: "vault/card-kek/ddf2", Source: "vault", Name: "card-kek"},
		{ID: "aws/0f1e2d3c/current", Source: "aws", Name: "0f1e2d3c", Tags: map[string]string{engine.TagAliases: "alias/payments,alias/payments-legacy"}},
	}}
	c := &common.Context{Ctx: context.Background(), Backend: b, Timeout: time.Second}
	for _, tc := range []struct{ source, name, fp, want string }{
		{"", "acme.crm.key.4", "bbbb", "open kms-b/acme.crm.key.4/1"},
		{"kms-a", "acme.crm.key.4", "bbbb", "open kms-a/acme.crm.key.4/1"},
		{"", "acme.hr.key.1", "cccc", "open kms-a/acme.hr.key.1/1"},
		{"", "acme.crm.key.4", "", "acme.crm.key.4 names 2 keys (in several sources): use its id: kms-a/acme.crm.key.4/1, kms-b/acme.crm.key.4/1"},
		{"kms-b", "acme.hr.key.1", "", "no key named acme.hr.key.1 in kms-b"},
		// A cloud key's versions are one key in one source: it said
		// "names 2 keys (in several sources)".
		{"", "card-kek", "", "card-kek has 2 versions in vault: use the id of one: vault/card-kek/6cb1, vault/card-kek/ddf2"},
		// An AWS key by any of its aliases, not only the first it is
		// shown by.
		{"", "alias/payments", "", "open aws/0f1e2d3c/current"},
		{"", "alias/payments-legacy", "", "open aws/0f1e2d3c/current"},
		{"aws", "alias/payment", "", "no key named alias/payment in aws"},
	} {
		got := ""
		switch msg := common.FindKey(c, tc.source, tc.name, tc.fp)().(type) {
		case common.OpenKeyMsg:
			got = "open " + msg.ID
		case common.FlashMsg:
			got = msg.Text
		}
		if got != tc.want {
			t.Errorf("FindKey(%q, %q, %q) = %q, want %q", tc.source, tc.name, tc.fp, got, tc.want)
		}
	}
}
