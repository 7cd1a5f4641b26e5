package aws_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/cli/clitest"
	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/cloud/aws"
	"github.com/keyward/keyward/engine"
)

// TestOperationsByAliasAreRecordedOnTheKey: a key named by its alias (as
// the CLI shows AWS keys, `keyward key rotate aws-prod payments`, or
// alias/payments) has what keyward did to it recorded on its inventory id
// (aws-prod/<key id>/current), so its history (`keyward keys show`,
// `report activity --key`) holds it. Rotate and update used to record
// their events on aws-prod/payments/current, an id of no key.
func TestOperationsByAliasAreRecordedOnTheKey(t *testing.T) {
	_, _, sock, kw := awsDaemon(t, "full_refresh_every = 1\n")
	kw("key", "create", "aws-prod", "payments", "--type", "oct")
	kw("sync", "--source", "aws-prod")
	var id string
	for _, k := range clitest.KeysBy(t, sock, "aws-prod", func(k engine.Key) string { return k.Tags[aws.TagAliases] }) {
		id = k.ID
	}
	if id == "" || id == engine.KeyID("aws-prod", "payments", "current") {
		t.Fatalf("the key's inventory id: %q", id)
	}
	kw("key", "rotate", "aws-prod", "payments")
	kw("key", "rotate", "aws-prod", "alias/payments")
	kw("key", "update", "aws-prod", "payments", "--disable")
	kw("key", "update", "aws-prod", "alias/payments", "--enable")
	kw("key", "update", "aws-prod", "payments", "--tag", "aws:description=cards")

	rep, err := api.NewClient(sock).ActivityReport(context.Background(), api.ReportQuery{Source: "aws-prod", Origin: string(engine.OriginKeyward), From: "-1d", To: "+1d"})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]int{}
	for _, ev := range rep.Events {
		if ev.Operation == engine.OpSynced {
			continue
		}
		if ev.KeyID != id {
			t.Errorf("%s (%s) recorded on %q, not on the key %q", ev.Operation, ev.Details, ev.KeyID, id)
		}
		ops[ev.Operation]++
	}
	if ops[engine.OpRotated] != 2 || ops[engine.OpDisabled] != 1 || ops[engine.OpEnabled] != 1 || ops[engine.OpEdited] != 1 || ops[engine.OpCreated] != 1 {
		t.Errorf("recorded operations %v", ops)
	}
}
