package render

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/report"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func TestTableDropsColumnsByPriority(t *testing.T) {
	entries := []report.AgingEntry{{Date: now.Add(3 * day), Milestone: report.MilestoneExpires, KeyID: "kms/acme.crm.key.4", Name: "acme.crm.key.4", Source: "kms",
		State: engine.StateActive, Bucket: engine.ExpiringBucket(7), Reason: "expires in 3d"}}
	tbl := Aging(entries, now)
	wide := tbl.Text(200)
	if !strings.Contains(wide, "REASON") || !strings.Contains(wide, "SOURCE") {
		t.Fatalf("wide table lost columns:\n%s", wide)
	}
	narrow := tbl.Text(60)
	for _, line := range strings.Split(strings.TrimSpace(narrow), "\n") {
		if len([]rune(line)) > 60 {
			t.Fatalf("line wider than 60: %q", line)
		}
	}
	if strings.Contains(narrow, "REASON") || !strings.Contains(narrow, "AGING") || !strings.Contains(narrow, "acme.crm.key.4") {
		t.Fatalf("narrow table dropped the wrong columns:\n%s", narrow)
	}
	var csv bytes.Buffer
	tbl.WriteCSV(&csv)
	if !strings.HasPrefix(csv.String(), "date,milestone,key_id,") || !strings.Contains(csv.String(), "2026-11-26T12:00:00Z,expires,kms/acme.crm.key.4") {
		t.Fatalf("csv:\n%s", csv.String())
	}
}

// Two versions of one long-named cloud key at 80 columns (the demo's
// Google keys): the version column stays, so the rows are not twins; the
// name gives way instead.
func TestAgingKeepsVersionsAt80(t *testing.T) {
	name := "europe-west1/acme-payments/card-kek"
	entries := []report.AgingEntry{{Date: now, Milestone: report.MilestoneExpires, KeyID: "aws/f142ac2c-96dc-4251-8978-a9aead81ee26/current",
		Name: "f142ac2c-96dc-4251-8978-a9aead81ee26", Version: "current", Source: "aws-demo", State: engine.StateActive, Bucket: engine.BucketRetired}}
	for _, v := range []string{"3", "4"} {
		entries = append(entries, report.AgingEntry{Date: now.Add(-88 * day), Milestone: report.MilestoneExpires, KeyID: "gcp/" + name + "/" + v, Name: name, Version: v,
			Source: "gcp-demo", State: engine.StateActive, Bucket: engine.BucketRetired, Reason: "superseded by a newer version"})
	}
	lines := strings.Split(strings.TrimSpace(Aging(entries, now).Text(80)), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "VER") || lines[2] == lines[3] {
		t.Fatalf("at 80 columns the two versions read as twins:\n%s", strings.Join(lines, "\n"))
	}
}

// The activity table's key column names the event's key, or none: never
// the actor (a refused request) or the source (an outage) in its place.
func TestActivityKeyColumnIsAKeyOrNothing(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tb := Activity([]engine.Event{
		{Time: at, Operation: "request-refused", Actor: "proxy:crm", Origin: engine.OriginProxy, Details: "proxy crm: not JSON"},
		{Time: at, Operation: "source-outage", Source: "kms-prod", Actor: "kms-prod", Origin: engine.OriginSource},
		{Time: at, Operation: "rotated", KeyID: "kms-prod/acme.crm.key.5", Source: "kms-prod", Actor: "alice", Origin: engine.OriginKeyward},
	})
	for i, want := range []string{"—", "—", "kms-prod/acme.crm.key.5"} {
		if got := tb.Rows[i].Cells[2]; got != want {
			t.Errorf("row %d: key column %q, want %q", i, got, want)
		}
	}
	if got := tb.Rows[0].Cells[3]; got != "proxy:crm" {
		t.Errorf("actor column %q, want proxy:crm", got)
	}
}

// The key column shortens an Azure version only: a Google key's name holds
// slashes (location/ring/key) and stays whole, with its version, so the
// keys of one key ring read apart (they all read gcp-demo/us/acme-s…).
func TestActivityKeyColumnShortensOnlyVersions(t *testing.T) {
	for id, want := range map[string]string{
		"azure-demo/acme-crm-field-kek/3547a24d5244d7dc4b19aa01bb02cc03": "azure-demo/acme-crm-field-kek/3547a2…",
		"gcp-demo/us/acme-signing/release-signer/2":                      "gcp-demo/us/acme-signing/release-signer/2",
		"gcp-demo/us/acme-signing/sso-decrypt/1":                         "gcp-demo/us/acme-signing/sso-decrypt/1",
		"aws-demo/00674796-c357-4c64-ab82-0c988a0ee82c/current":          "aws-demo/00674796-c357-4c64-ab82-0c988a0ee82c/current",
		"kms-prod/acme.crm.key.5":                                        "kms-prod/acme.crm.key.5",
	} {
		if got := Event(engine.Event{KeyID: id}).Cells[2]; got != want {
			t.Errorf("%s: key column %q, want %q", id, got, want)
		}
	}
}

// A usage row shows its last use relative to now.
func TestUsageShowsTheLastUse(t *testing.T) {
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	u := report.Usage{Rows: []report.UsageRow{{App: "crm", KeyID: "k", Encrypts: 2, First: h, Last: h.Add(59 * time.Minute)}}}
	if got := Usage(u, h.Add(62*time.Minute)).Rows[0].Cells[4]; got != "2026-11-23 (3m ago)" {
		t.Errorf("last use shown as %q, want 3m ago", got)
	}
}

func TestSparkline(t *testing.T) {
	if s := Sparkline([]int{0, 1, 8}); []rune(s)[0] != ' ' || []rune(s)[2] != '█' {
		t.Fatalf("sparkline %q", s)
	}
	year := make([]int, 365)
	year[364] = 5
	if r := Resample(year, 60); len(r) != 60 || r[59] != 5 {
		t.Fatalf("resample a year into 60 columns: len %d last %d", len(r), r[len(r)-1])
	}
}

// Through the table's CSV writer a cell a spreadsheet would run as a
// formula is neutralised, and the table's own rows are left alone.
func TestWriteCSVNeutralisesFormulas(t *testing.T) {
	tb := Table{Header: []string{"name"}, Rows: []Row{{Raw: []string{"=1+1"}}}}
	var b bytes.Buffer
	if err := tb.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(b.String())).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][0] != "'=1+1" || tb.Rows[0].Raw[0] != "=1+1" {
		t.Fatalf("WriteCSV: %q %v (table row now %q)", recs, err, tb.Rows[0].Raw[0])
	}
}

// A key name from a vault others write to may hold control characters: the
// CLI's table shows them as U+FFFD, as the TUI does, and never writes an
// escape sequence to the terminal.
func TestTextCleansControlCharacters(t *testing.T) {
	evil := "acme\x1b]52;c;ZXZpbA==\x07\x1b[2J.key"
	tbl := Aging([]report.AgingEntry{{Date: now, Milestone: report.MilestoneExpires, KeyID: "kms/" + evil, Name: evil, Source: "kms",
		State: engine.StateActive, Bucket: engine.BucketExpired, Reason: "expired\rhidden"}}, now)
	out := tbl.Text(0)
	if strings.ContainsAny(out, "\x1b\x07\r") {
		t.Fatalf("control characters reached the terminal: %q", out)
	}
	if !strings.Contains(out, "acme\uFFFD]52;c;ZXZpbA==\uFFFD\uFFFD[2J.key") {
		t.Fatalf("the name is not shown cleaned: %q", out)
	}
}

// The usage CSV's first column of time says what it holds: the start of
// the hour of the first use (use is counted per hour), not the use itself;
// last_use is the use itself.
func TestUsageCSVFirstUseIsLabelledAnHour(t *testing.T) {
	h := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	u := report.Usage{Rows: []report.UsageRow{{App: "crm", KeyID: "k", Encrypts: 2, First: h, Last: h.Add(59 * time.Minute)}}}
	var b bytes.Buffer
	if err := Usage(u, now).WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("%q %v", recs, err)
	}
	if recs[0][4] != "first_use_hour" || recs[1][4] != "2026-11-23T17:00:00Z" || recs[0][5] != "last_use" || recs[1][5] != "2026-11-23T17:59:00Z" {
		t.Errorf("header %q, row %q", recs[0], recs[1])
	}
}
