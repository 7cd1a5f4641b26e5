package cli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

// TestUsageSummary: the usage report's header counts in words ("1 key",
// it said "1 keys"), its applications' counts line up however long their
// names (cloud principals are long: billing@acme-prod-kms.iam…), and a
// principal's name is the cloud's text, printed with its control
// characters made visible as everywhere else.
func TestUsageSummary(t *testing.T) {
	u := &report.Usage{
		Range: report.Range{From: fixedNow.AddDate(0, 0, -30), To: fixedNow},
		Apps: []report.AppUsage{
			{App: "billing@acme-prod-kms.iam.gserviceaccount.com", Keys: 1, Encrypts: 24},
			{App: "crm", Keys: 5, Encrypts: 4297, Decrypts: 1},
			{App: "role/evil" + escapes, Keys: 2},
		},
		Unused: []engine.Key{{ID: "a"}}, UnusedTotal: 1,
	}
	var b bytes.Buffer
	usageSummary(&b, u)
	out := b.String()
	lines := strings.Split(out, "\n")
	if len(lines) < 5 {
		t.Fatalf("summary:\n%s", out)
	}
	for _, want := range []string{"1 key  24 encrypts  0 decrypts", "5 keys  4297 encrypts  1 decrypt\n", "  1 key unused in the range\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Errorf("a principal's escapes reach the terminal: %q", out)
	}
	// Every count starts in one column (in runes: a cleaned control
	// character is one U+FFFD, one cell wide).
	col := -1
	for i, count := range []string{"  1 key ", "  5 keys ", "  2 keys "} {
		at := strings.Index(lines[i+1], count)
		if at < 0 {
			t.Fatalf("line %q lacks %q", lines[i+1], count)
		}
		c := utf8.RuneCountInString(lines[i+1][:at])
		if col >= 0 && c != col {
			t.Errorf("the counts do not line up (column %d, then %d):\n%s", col, c, out)
		}
		col = c
	}
}
