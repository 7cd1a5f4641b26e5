package auditlog

import (
	"bytes"
	"testing"
)

// FuzzParseSegmentNote: any text either is refused or is a segment whose
// fields read back as they were written.
func FuzzParseSegmentNote(f *testing.F) {
	f.Add(archiveOrigin + "\nfirst 1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nlast 9 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nsha256 " +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n")
	f.Add("keyward audit archive v1\nfirst x\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := parseSegmentNote(text)
		if err != nil {
			return
		}
		if s.first < 1 || s.last < s.first || len(s.sum) != 64 {
			t.Fatalf("%q parsed as %+v", text, s)
		}
	})
}

// FuzzSplitNotes: a checkpoint file is cut into notes that, put back
// together with what was skipped, never invent bytes, and each starts with
// four text lines and a blank one.
func FuzzSplitNotes(f *testing.F) {
	f.Add([]byte("keyward audit chain v1\n3\nAAAA\ntime 2026-01-01T00:00:00Z\n\n— keyward-audit abcd\n"))
	f.Add([]byte("\n\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		notes, err := SplitNotes(b)
		if err != nil {
			return
		}
		for _, n := range notes {
			if !bytes.Contains(b, n) {
				t.Fatalf("note %q is not in the input", n)
			}
			lines := bytes.SplitAfter(n, []byte("\n"))
			if len(lines) < 6 || string(lines[4]) != "\n" || !bytes.HasPrefix(lines[5], []byte("— ")) {
				t.Fatalf("note %q is not 4 lines, a blank line and a signature", n)
			}
		}
	})
}
