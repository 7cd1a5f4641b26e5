package azure

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/demo/vault"
)

// BenchmarkSync measures a sync of n keys × 3 versions from the emulated
// vault through the real client over TLS into a real SQLite store: the
// first sync, and a sync after 1% of the keys changed in the cloud (half
// rotated, half disabled). requests/op is what the vault served; compare
// the 1% figure with the first-sync figure of the same run, and across n.
//
//	go test -run XXX -bench Sync -benchtime 1x ./daemon/cloud/azure
func BenchmarkSync(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("keys=%d/first", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				e := newEnv(b, vault.Options{}, false)
				if err := e.srv.SeedBulk("acme-bench", n, 3); err != nil {
					b.Fatal(err)
				}
				reqs := e.srv.Requests()
				b.StartTimer()
				st := e.mustSync()
				b.StopTimer()
				b.ReportMetric(float64(e.srv.Requests()-reqs), "requests/op")
				b.ReportMetric(float64(st.Rows), "rows/op")
				b.ReportMetric(float64(st.Fetched), "fetched/op")
				b.StartTimer()
			}
		})
		b.Run(fmt.Sprintf("keys=%d/1pct-changed", n), func(b *testing.B) {
			b.StopTimer()
			e := newEnv(b, vault.Options{}, false)
			if err := e.srv.SeedBulk("acme-bench", n, 3); err != nil {
				b.Fatal(err)
			}
			e.mustSync()
			var reqs, rows, fetched, events int64
			for i := range b.N {
				changed := max(n/100, 1)
				for j := range changed {
					name := fmt.Sprintf("acme-bench-%05d", (i*changed+j)*97%n)
					if j%2 == 0 {
						if _, err := e.srv.RotateKey(name); err != nil {
							b.Fatal(err)
						}
					} else if err := e.srv.EditKey(name, "", func(en *bool, _ **time.Time, _ map[string]string) { *en = !*en }); err != nil {
						b.Fatal(err)
					}
				}
				r0 := e.srv.Requests()
				b.StartTimer()
				st := e.mustSync()
				b.StopTimer()
				reqs += e.srv.Requests() - r0
				rows += int64(st.Rows)
				fetched += int64(st.Fetched)
				events += int64(st.Events)
			}
			b.ReportMetric(float64(reqs)/float64(b.N), "requests/op")
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
			b.ReportMetric(float64(fetched)/float64(b.N), "fetched/op")
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
		})
	}
}
