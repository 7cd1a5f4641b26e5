package testkit

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Spellings are the forms key material could leak in: raw, hex in either
// case, and base64 (standard, unpadded, URL).
func Spellings(material []byte) map[string][]byte {
	h := hex.EncodeToString(material)
	return map[string][]byte{"raw": material, "hex": []byte(h), "HEX": []byte(strings.ToUpper(h)),
		"base64": []byte(base64.StdEncoding.EncodeToString(material)), "base64 unpadded": []byte(base64.RawStdEncoding.EncodeToString(material)),
		"base64url": []byte(base64.RawURLEncoding.EncodeToString(material))}
}

// DataFiles reads every regular file of dir (the database, its WAL and
// shared memory, whatever else a daemon keeps there), named "file NAME";
// it fails the test when none is a database.
func DataFiles(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	db := 0
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
			b, _ := os.ReadFile(f)
			out["file "+filepath.Base(f)] = b
			if strings.Contains(f, ".db") {
				db += len(b)
			}
		}
	}
	if db == 0 {
		t.Fatalf("no database file in %s (%v)", dir, files)
	}
	return out
}

// NoLeak fails the test for each place of hay that holds one of the
// spellings of what.
func NoLeak(t testing.TB, what string, spellings map[string][]byte, hay map[string][]byte) {
	t.Helper()
	for where, b := range hay {
		for form, needle := range spellings {
			if bytes.Contains(b, needle) {
				t.Errorf("%s (%s) is in the %s", what, form, where)
			}
		}
	}
}

// SocketAnswers is the body of a GET of each path on the daemon's Unix
// socket, by "GET path": the socket side of a leak search's haystack.
func SocketAnswers(t testing.TB, socket string, paths ...string) map[string][]byte {
	t.Helper()
	hc := UnixClient(socket)
	defer hc.CloseIdleConnections()
	hay := map[string][]byte{}
	for _, p := range paths {
		resp, err := hc.Get("http://keyward" + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		hay["GET "+p] = b
	}
	return hay
}
