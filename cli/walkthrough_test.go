package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/demo"
	"github.com/keyward/keyward/daemon/testkit"
)

// asCLI makes the test binary act as the keyward command when the
// walkthrough's shell runs it (through the keyward script it writes).
const asCLI = "KEYWARD_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(asCLI) == "1" {
		os.Exit(Execute(context.Background(), os.Args[1:], &App{Out: os.Stdout, Err: os.Stderr, In: os.Stdin}))
	}
	os.Exit(m.Run())
}

// The README's walkthrough ("See it: the cloud holds tokens ...") runs as
// written, with bash, curl and jq, against the headless demo while the
// demo's traffic creates records: no record id may be hard-coded.
func TestREADMEWalkthroughRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole demo stack")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walkthrough needs %s: %v", tool, err)
		}
	}
	script := walkthrough(t, testkit.README(t))

	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "keyward"), []byte("#!/bin/sh\n"+asCLI+"=1 exec '"+self+"' \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}

	var banner testkit.Buffer
	sock := runDemo(t, &banner)
	app, px := bannerURL(t, &banner, "demo app:"), bannerURL(t, &banner, "via proxy:")
	// The proxy encrypts once the KMIP ring is in and traffic has made
	// records, so an id like r000008 is someone else's by then.
	c := api.NewClient(sock)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ps, err := c.Proxy(context.Background())
		if err == nil && len(ps) == 1 && ps[0].Ring.KeyID != "" && ps[0].Requests >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo proxy has no ring or no traffic after 60 s: %+v %v", ps, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "APP="+app, "PX="+px, "KEYWARD_SOCKET="+sock, "PATH="+bin+":"+os.Getenv("PATH"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README walkthrough failed: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	// The answers have no trailing newline: the id's line comes first, the
	// JSON answers and the token run on after it.
	id, rest, _ := strings.Cut(out.String(), "\n")
	if !regexp.MustCompile(`^r[0-9]+$`).MatchString(id) {
		t.Fatalf("first line is not the created record's id: %q\n%s", id, out.String())
	}
	// Upstream holds tokens; the proxy's record, the search and keyward
	// decrypt give the plaintext back.
	rec := `"id":"` + id + `","name":"Ann Lee","ssn":`
	if !strings.HasPrefix(rest, `{"card":{"number":"kw1`) || !strings.Contains(rest, rec+`"kw1`) {
		t.Fatalf("upstream record of %s is not tokens:\n%s", id, rest)
	}
	if n := strings.Count(rest, rec+`"123-45-6789"`); n != 3 {
		t.Fatalf("plaintext record of %s %d times, want 3 (proxy, search, keyward decrypt):\n%s", id, n, rest)
	}
	// keyward encrypt's token, then the proxy's live status.
	if !regexp.MustCompile(`\}kw1gt\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n\{\s*"apps":\s*\[\s*\{\s*"app":\s*"crm"`).MatchString(rest) {
		t.Fatalf("no token from keyward encrypt followed by the proxy's status:\n%s", rest)
	}
}

// walkthrough is the README's sh block of the proxy walkthrough.
func walkthrough(t *testing.T, readme string) string {
	t.Helper()
	_, sec, ok := strings.Cut(readme, "### See it: the cloud holds tokens")
	if !ok {
		t.Fatal("README has no walkthrough section")
	}
	_, block, ok := strings.Cut(sec, "```sh\n")
	if !ok {
		t.Fatal("walkthrough has no sh block")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("walkthrough's sh block is not closed")
	}
	return block
}

// runDemo runs the headless demo with brisk traffic until the test ends.
func runDemo(t *testing.T, out *testkit.Buffer) string {
	t.Helper()
	dir := t.TempDir()
	return testkit.Start(t, "the demo", 60*time.Second, func(ctx context.Context, ready func(string)) error {
		return demo.Run(ctx, demo.Options{Headless: true, Dir: dir, Out: out, Rate: 20, Poll: time.Second, Ready: ready})
	}).Addr
}

// bannerURL is the URL the demo's banner gives after label.
func bannerURL(t *testing.T, b *testkit.Buffer, label string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(label) + `\s+(http\S+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no %q in the demo's banner:\n%s", label, b.String())
	return ""
}
