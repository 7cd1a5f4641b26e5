package api

import "testing"

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
}
