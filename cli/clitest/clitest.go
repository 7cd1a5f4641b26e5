// Package clitest runs keyward's CLI in-process on a daemon's socket, for
// the end-to-end tests of other packages (connectors, the daemon).
package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/cli"
	"github.com/keyward/keyward/engine"
)

// Run runs "keyward --socket sock args..." with an empty stdin and
// returns its exit code, stdout and stderr.
func Run(sock string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = cli.Execute(context.Background(), append([]string{"--socket", sock}, args...), &cli.App{Out: &out, Err: &errb, In: strings.NewReader("")})
	return code, out.String(), errb.String()
}

// Runner is Run for commands that must work: it returns stdout, and a
// non-zero exit fails the test with the command and its stderr.
func Runner(t testing.TB, sock string) func(args ...string) string {
	return func(args ...string) string {
		t.Helper()
		code, out, errs := Run(sock, args...)
		if code != cli.ExitOK {
			t.Fatalf("keyward %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		return out
	}
}

// Keys is the source's inventory as "keyward keys list --source source
// --json" prints it; a failed command or an answer that is not the JSON
// contract fails the test.
func Keys(t testing.TB, sock, source string) []engine.Key {
	t.Helper()
	var l cli.KeysListJSON
	if err := json.Unmarshal([]byte(Runner(t, sock)("keys", "list", "--source", source, "--json")), &l); err != nil {
		t.Fatalf("keyward keys list --source %s --json: %v", source, err)
	}
	return l.Keys
}
