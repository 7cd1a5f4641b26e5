package gcpkms

import (
	"strings"
	"testing"
)

// FuzzParseFilter: no filter panics the Logging fake, and a filter it
// accepts is made of the terms it serves.
func FuzzParseFilter(f *testing.F) {
	f.Add(`logName="projects/p/logs/cloudaudit.googleapis.com%2Fdata_access" AND timestamp >= "2026-01-02T03:04:05Z"`)
	f.Add(`protoPayload.methodName="google.cloud.kms.v1.KeyManagementService.Encrypt"`)
	f.Add(`timestamp < "x"`)
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := parseFilter(s)
		if err != nil {
			return
		}
		for _, tm := range terms {
			if tm.field == "" || (tm.op != "=" && tm.field != "timestamp") || strings.Contains(tm.value, `"`) {
				t.Fatalf("%q gave term %+v", s, tm)
			}
		}
	})
}
