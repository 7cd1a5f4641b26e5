package storetest

import (
	"context"
	"path/filepath"
	"testing"
)

// A store opened by New takes writes, and one opened again on its file
// after it was closed sees them; closing it before the test ends is safe.
func TestOpenAndNew(t *testing.T) {
	ctx := context.Background()
	st := New(t)
	if err := st.EnsureSource(ctx, "kms", "kmip", ""); err != nil {
		t.Fatal(err)
	}
	path := st.Path()
	if filepath.Base(path) != "keyward.db" {
		t.Fatalf("path %s", path)
	}
	st.Close()
	again := Open(t, path)
	srcs, err := again.Sources(ctx)
	if err != nil || len(srcs) != 1 || srcs[0].Name != "kms" {
		t.Fatalf("sources after a reopen: %+v %v", srcs, err)
	}
}
