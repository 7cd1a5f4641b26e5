package daemontest

import (
	"context"
	"testing"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/engine"
)

// Versions is GET /v1/keys/{id}'s versions of the key, by version: what
// the daemon holds of them (after a life-cycle operation, what the
// connector read back from the cloud). A key the daemon does not have
// fails t.
func Versions(t testing.TB, c *api.Client, id string) map[string]engine.Key {
	t.Helper()
	d, err := c.Key(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]engine.Key, len(d.Versions))
	for _, v := range d.Versions {
		out[v.Version] = v
	}
	return out
}
