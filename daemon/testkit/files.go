package testkit

import (
	"encoding/csv"
	"os"
	"testing"
)

// ReadCSV reads every record of the CSV file at path (an export, a report
// a schedule wrote), failing tb if it cannot be read or parsed.
func ReadCSV(tb testing.TB, path string) [][]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return records
}
