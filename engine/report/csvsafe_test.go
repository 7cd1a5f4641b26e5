package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
)

// A key named like a formula reaches the CSV as text a spreadsheet shows,
// not runs; numbers, dates and ordinary names are unchanged.
func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{
		`=HYPERLINK("http://x","y")`: `'=HYPERLINK("http://x","y")`,
		"+1+cmd":                     "'+1+cmd",
		"@SUM(A1)":                   "'@SUM(A1)",
		"-2+3":                       "'-2+3",
		"\tx":                        "'\tx",
		"-12.5":                      "-12.5",
		"42":                         "42",
		"2026-12-04T10:00:00Z":       "2026-12-04T10:00:00Z",
		"acme-crm-field-kek":         "acme-crm-field-kek",
		"":                           "",
	} {
		rec := []string{in}
		if got := CSVSafe(rec)[0]; got != want {
			t.Errorf("CSVSafe(%q) = %q, want %q", in, got, want)
		}
		if rec[0] != in {
			t.Errorf("CSVSafe changed its input %q", in)
		}
	}
	// Through the report writer: the table's own rows are left alone.
	tb := Table{Header: []string{"name"}, Raw: [][]string{{"=1+1"}}}
	var b bytes.Buffer
	if err := tb.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "'=1+1" || tb.Raw[0][0] != "=1+1" {
		t.Fatalf("WriteCSV: %q %v (table row now %q)", recs, err, tb.Raw[0][0])
	}
}
