package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/daemon/api"
)

// These tests play a hostile administrator against the schedule routes of a
// real daemon on its real socket: every bad body or spec gets a 4xx in the
// API's one error shape, names what is wrong, and changes nothing.

// send makes one request on the socket and reads the whole answer. It
// writes the request on its own connection and reads the answer whatever
// became of the write: a daemon that refuses an oversized body answers 413
// and closes before the body is all sent, and net/http's client then
// reports the broken pipe of its write instead of the answer (it failed
// this test now and then). On a Unix socket the answer written before the
// close is still there to read.
func send(t *testing.T, socket, method, path, body string) (int, string, []byte) {
	t.Helper()
	conn, err := net.Dial("unix", socket)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer conn.Close()
	req, _ := http.NewRequest(method, "http://keyward"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Close = true
	go req.Write(conn) // its error (EPIPE after a 413) is not the answer
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// schedulesNow is the daemon's list of schedules as JSON, to compare
// before and after an attack.
func schedulesNow(t *testing.T, socket string) string {
	t.Helper()
	code, _, b := send(t, socket, http.MethodGet, "/v1/schedules", "")
	if code != http.StatusOK {
		t.Fatalf("GET /v1/schedules: %d %s", code, b)
	}
	var v struct {
		Schedules []json.RawMessage `json:"schedules"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range v.Schedules {
		names = append(names, string(s))
	}
	return strings.Join(names, "\n")
}

func TestHostileScheduleRequests(t *testing.T) {
	r := start(t, nil)
	ok := `{"name":"base","kind":"sync","every":"daily 02:00"}`
	if code, _, b := send(t, r.socket, http.MethodPost, "/v1/schedules", ok); code != http.StatusCreated {
		t.Fatalf("creating a good schedule: %d %s", code, b)
	}
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	huge := `{"name":"big","kind":"sync","every":"daily 02:00","sources":["` + strings.Repeat("x", 2<<20) + `"]}`
	manySources := `{"name":"many","kind":"sync","every":"daily 02:00","sources":[` + strings.TrimSuffix(strings.Repeat(`"s",`, 200000), ",") + `]}`
	spec := func(fields string) string { return `{"name":"attack",` + fields + `}` }
	cases := []struct {
		name, method, path, body string
		status                   int
		says                     string // a part of the message
	}{
		{"not json", "POST", "/v1/schedules", `{"name":`, 400, "not valid JSON"},
		{"array", "POST", "/v1/schedules", `[1,2]`, 400, "JSON object"},
		{"null", "POST", "/v1/schedules", `null`, 400, "JSON object"},
		{"empty", "POST", "/v1/schedules", ``, 400, "empty"},
		{"trailing data", "POST", "/v1/schedules", ok + `{}`, 400, "after the JSON object"},
		{"unknown field", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","evry":"x"`), 400, "evry"},
		{"wrong type", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","keep":"7"`), 400, "keep"},
		{"wrong type tags", "POST", "/v1/schedules", spec(`"kind":"rotate","every":"daily 02:00","tags":["a"]`), 400, "tags"},
		{"deeply nested", "POST", "/v1/schedules", deep, 400, ""},
		{"oversized", "POST", "/v1/schedules", huge, 413, "larger than"},
		{"source list too long", "POST", "/v1/schedules", manySources, 400, "sources"},
		{"cron with 6 fields", "POST", "/v1/schedules", spec(`"kind":"sync","cron":"0 0 3 * * *"`), 400, "five fields"},
		{"cron @every", "POST", "/v1/schedules", spec(`"kind":"sync","cron":"@every 1s"`), 400, "@every"},
		{"feb 30", "POST", "/v1/schedules", spec(`"kind":"sync","cron":"0 3 30 2 *"`), 400, "never comes"},
		{"no such zone", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","zone":"Mars/Olympus_Mons"`), 400, "IANA"},
		{"zone path", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","zone":"../../../etc/passwd"`), 400, "IANA"},
		{"end before start", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","start":"2030-01-02","end":"2030-01-01"`), 400, "not after start"},
		{"jitter over a day", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","jitter":"48h"`), 400, "jitter"},
		{"jitter beyond the period", "POST", "/v1/schedules", spec(`"kind":"sync","cron":"*/5 * * * *","jitter":"1h"`), 400, "jitter"},
		{"negative jitter", "POST", "/v1/schedules", spec(`"kind":"sync","every":"daily 02:00","jitter":"-1m"`), 400, "jitter"},
		{"bad pattern", "POST", "/v1/schedules", spec(`"kind":"rotate","every":"daily 02:00","pattern":"acme[crm"`), 400, "pattern"},
		{"bad name", "POST", "/v1/schedules", `{"name":"../x","kind":"sync","every":"daily 02:00"}`, 400, "name"},
		{"escape in name", "POST", "/v1/schedules", "{\"name\":\"a\\u001b[2J\",\"kind\":\"sync\",\"every\":\"daily 02:00\"}", 400, "name"},
		{"kind unknown", "POST", "/v1/schedules", spec(`"kind":"destroy","every":"daily 02:00"`), 400, "kind"},
		{"keep huge", "POST", "/v1/schedules", spec(`"kind":"backup","every":"daily 02:00","keep":99999999999999999999`), 400, "keep"},
		{"report relative dir", "POST", "/v1/schedules", spec(`"kind":"report","report":"aging","every":"daily 02:00","dir":"reports"`), 400, "absolute"},
		{"duplicate", "POST", "/v1/schedules", ok, 409, "base"},
		{"edit rename", "PUT", "/v1/schedules/base", `{"name":"other","kind":"sync","every":"daily 02:00"}`, 400, "renamed"},
		{"edit unknown field", "PUT", "/v1/schedules/base", `{"kind":"sync","every":"daily 02:00","x":1}`, 400, "x"},
		{"edit bad zone", "PUT", "/v1/schedules/base", `{"kind":"sync","every":"daily 02:00","zone":"Nowhere/Else"}`, 400, "IANA"},
		{"edit missing", "PUT", "/v1/schedules/ghost", `{"kind":"sync","every":"daily 02:00"}`, 404, "ghost"},
		{"op unknown", "POST", "/v1/schedules/base/explode", ``, 404, "pause, resume, run"},
		{"run missing", "POST", "/v1/schedules/ghost/run", ``, 404, "ghost"},
		{"delete missing", "DELETE", "/v1/schedules/ghost", ``, 404, "ghost"},
		{"detail bad run", "GET", "/v1/schedules/base?run=abc", ``, 400, "run"},
	}
	before := schedulesNow(t, r.socket)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ctype, b := send(t, r.socket, c.method, c.path, c.body)
			var e api.Error
			if code != c.status || ctype != "application/json" || json.Unmarshal(b, &e) != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s: %d %s %.300q, want %d in the API's error shape", c.method, c.path, code, ctype, b, c.status)
			}
			if !strings.Contains(e.Message, c.says) {
				t.Errorf("message %q does not say %q", e.Message, c.says)
			}
			if len(e.Message) > 2000 {
				t.Errorf("message is %d bytes: it echoes the request", len(e.Message))
			}
			if after := schedulesNow(t, r.socket); after != before {
				t.Fatalf("the attack changed the schedules:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestScheduleRunNowStorm: many concurrent run-now requests of one schedule
// start one run; the rest are refused with 409, none queued.
func TestScheduleRunNowStorm(t *testing.T) {
	r := start(t, nil)
	if code, _, b := send(t, r.socket, http.MethodPost, "/v1/schedules", `{"name":"storm","kind":"sync","every":"daily 02:00","sources":["acme-kms"]}`); code != http.StatusCreated {
		t.Fatalf("%d %s", code, b)
	}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _, b := send(t, r.socket, http.MethodPost, "/v1/schedules/storm/run", "")
			if code != http.StatusAccepted && code != http.StatusConflict {
				t.Errorf("run now: %d %s", code, b)
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if counts[http.StatusAccepted] < 1 {
		t.Fatalf("no run started: %v", counts)
	}
	// Each accepted run is a run in the history; none beyond.
	code, _, b := send(t, r.socket, http.MethodGet, "/v1/schedules/storm", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	var d api.ScheduleDetail
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if got := len(d.Schedule.Recent); got > counts[http.StatusAccepted] {
		t.Fatalf("%d runs recorded for %d accepted requests (%v)", got, counts[http.StatusAccepted], counts)
	}
	t.Log(fmt.Sprint(counts))
}
