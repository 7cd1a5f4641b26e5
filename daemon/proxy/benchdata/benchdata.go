// Package benchdata makes the request bodies the proxy benchmarks and the
// wrk load test send: 1 KiB of JSON with 3 protected fields and 64 KiB with
// 50, so the in-process benchmarks and the load test measure the same thing.
package benchdata

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Payloads returns the small (1 KiB: ssn, email, card.number) and large
// (64 KiB: records[*].ssn in 50 records) bodies.
func Payloads() (small, large []byte) {
	rec := map[string]any{"id": 4711, "name": "Ann Lee", "ssn": "123-45-6789", "email": "ann.lee@example.com",
		"card": map[string]any{"number": "4111 1111 1111 1111", "expiry": "12/29"}, "plan": "enterprise"}
	b, _ := json.Marshal(rec)
	rec["notes"] = strings.Repeat("n", 1024-len(b)-len(`,"notes":""`))
	small, _ = json.Marshal(rec)
	var recs []map[string]any
	for i := 0; i < 50; i++ {
		recs = append(recs, map[string]any{"id": i, "ssn": fmt.Sprintf("123-45-%04d", i), "name": "Ann Lee", "notes": ""})
	}
	b, _ = json.Marshal(map[string]any{"records": recs})
	pad := (64*1024 - len(b)) / 50
	for i := range recs {
		recs[i]["notes"] = strings.Repeat("n", pad)
	}
	large, _ = json.Marshal(map[string]any{"records": recs})
	return small, large
}
