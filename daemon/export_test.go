package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/api"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

var exportNow = time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)

// startInventory runs a daemon at exportNow on an inventory of keys
// written to its database before it starts.
func startInventory(t *testing.T, keys map[string][]engine.Key) string {
	t.Helper()
	cfg := configIn(t.TempDir())
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, filepath.Join(cfg.DataDir, "keyward.db"))
	for src, ks := range keys {
		if err := st.EnsureSource(context.Background(), src, "kmip", "127.0.0.1:5696"); err != nil {
			t.Fatal(err)
		}
		for len(ks) > 0 {
			n := min(len(ks), 2000)
			if _, err := st.Apply(context.Background(), store.Change{Source: src, Upsert: ks[:n]}); err != nil {
				t.Fatal(err)
			}
			ks = ks[n:]
		}
	}
	st.Close()
	return run(t, cfg, Options{Now: func() time.Time { return exportNow }}).socket
}

// exportInventory is n keys of two sources with every field set or left
// out in turn: nil and set times, unicode, HTML-looking and quoted names,
// tags plain, escaped and non-ASCII, keys in every aging bucket.
func exportInventory(n int) map[string][]engine.Key {
	names := []string{"acme.crm.key.%d", "clé-%d-日本", "<b>&%d</b>", "tab\t%d", "quote\"%d\\", "app%d.key.10", "\u2028line%d"}
	tagSets := []map[string]string{nil, {"env": "prod"}, {"owner": "Zoë", "cost-centre": "42"},
		{"a\"b": "c\\d", "nl": "x\ny", "html": "<&>"}, {"aws:aliases": "alias/a,alias/b", "z": ""}}
	day := 24 * time.Hour
	at := func(i, salt int) *time.Time {
		if (i+salt)%4 == 0 {
			return nil
		}
		t := exportNow.Add(time.Duration((i*7919+salt*104729)%(1500*24*3600)-750*24*3600)*time.Second + time.Duration(i%1000)*time.Millisecond)
		return &t
	}
	out := map[string][]engine.Key{}
	for i := 0; i < n; i++ {
		src := []string{"kms-prod", "az-vault"}[i%2]
		name := fmt.Sprintf(names[i%len(names)], i)
		version := []string{"", "1", "17"}[i%3]
		k := engine.Key{ID: engine.KeyID(src, name, version), Source: src, Name: name, Version: version,
			Algorithm: []string{"AES", "RSA", ""}[i%3], Length: []int{256, 0, 128, 2048}[i%4],
			State:       engine.States[i%len(engine.States)],
			Application: []string{"", "crm", "billing"}[i%3], Fingerprint: []string{"", "ab12cd"}[i%2],
			Created: at(i, 1), Activated: at(i, 2), Expires: at(i, 3), Deactivated: at(i, 5), Destroyed: at(i, 6),
			Deleted: at(i, 7), PurgeAt: at(i, 9), Rotated: at(i, 10),
			RotateAfter: engine.Duration(time.Duration(i%3) * 45 * day), Tags: tagSets[i%len(tagSets)],
			LinkedTo: []string{"", "aws/k"}[i%2]}
		out[src] = append(out[src], k)
	}
	return out
}

// TestExportIsEachKeyEncoded: the streamed export of an inventory of
// several pages is, line for line and byte for byte, each key of the
// keys list as encoding/json writes it (format=ndjson) or csv.Writer its
// guarded record (format=csv), in the list's order, for the default order
// and filtered, sorted ones.
func TestExportIsEachKeyEncoded(t *testing.T) {
	sock := startInventory(t, exportInventory(4500))
	hc := testkit.UnixClient(sock)
	for _, filter := range []string{"", "sort=-created", "state=active&sort=expires", "aging=expired", "q=clé"} {
		// The per-key encoding: the keys list, page by page.
		var want, wantCSV bytes.Buffer
		enc := json.NewEncoder(&want)
		cw := csv.NewWriter(&wantCSV)
		cw.Write(api.KeyCSVHeader)
		n := 0
		for cursor := ""; ; {
			q, _ := url.ParseQuery(filter)
			q.Set("limit", "1000")
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			resp, err := hc.Get("http://keyward/v1/keys?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var page api.KeysPage
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range page.Keys {
				if err := enc.Encode(k); err != nil {
					t.Fatal(err)
				}
				cw.Write(api.CSVSafe(api.KeyCSVRecord(k)))
			}
			n += len(page.Keys)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		cw.Flush()
		if filter == "" && n != 4500 {
			t.Fatalf("the keys list has %d keys, want 4500", n)
		}
		for format, want := range map[string][]byte{"ndjson": want.Bytes(), "csv": wantCSV.Bytes()} {
			resp, err := hc.Get("http://keyward/v1/export/keys?format=" + format + "&" + filter)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d %v", format, filter, resp.StatusCode, err)
			}
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := range min(len(gl), len(wl)) {
					if gl[i] != wl[i] {
						t.Fatalf("%s %s: line %d of %d/%d:\n got %q\nwant %q", format, filter, i+1, len(gl), len(wl), gl[i], wl[i])
					}
				}
				t.Fatalf("%s %s: %d lines exported, %d wanted", format, filter, len(gl)-1, len(wl)-1)
			}
		}
	}
}

// TestStalledExportHoldsAPage: a caller that stops reading an export
// leaves the daemon holding about a page of it, not the whole export
// (read ahead into memory), and the export resumes whole when the caller
// reads again.
func TestStalledExportHoldsAPage(t *testing.T) {
	if raceDetector {
		// 5 min 23 s of CI's -race run of ./daemon (its 10 min budget) on
		// a loaded machine; the race run is for the concurrent paths.
		t.Skip("a heap measurement of a 20 MB export: distorted and minutes long under -race; the run without -race makes it")
	}
	const n = 12000 // six pages of the export
	inv := exportInventory(n)
	big := map[string]string{}
	for i := range 12 {
		big[fmt.Sprintf("tag-%02d", i)] = strings.Repeat("x", 100)
	}
	for _, ks := range inv {
		for i := range ks {
			ks[i].Tags = big // 1.5 KB a key: the export is about 20 MB
		}
	}
	sock := startInventory(t, inv)
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	resp, err := testkit.UnixClient(sock).Get("http://keyward/v1/export/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := bufio.NewReaderSize(resp.Body, 64<<10)
	first, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	// Stalled: wait until the daemon stops getting further, then weigh
	// what it holds.
	var held uint64
	for i := 0; i < 10; i++ {
		time.Sleep(200 * time.Millisecond)
		held = max(held, heap()-min(before, heap()))
	}
	whole := uint64(n) * uint64(len(first))
	t.Logf("whole export about %d MiB; heap grew %d KiB while the caller stalled", whole>>20, held>>10)
	if held > whole/3 {
		t.Fatalf("a stalled caller made the daemon hold %d KiB of a %d KiB export", held>>10, whole>>10)
	}
	lines := 1
	for {
		_, err := r.ReadSlice('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d lines: %v", lines, err)
		}
		lines++
	}
	if lines != n {
		t.Fatalf("the resumed export has %d lines, want %d", lines, n)
	}
}

// TestExportDuringASyncHasEachKeyOnce: a sync changes every key's state
// while an export sorted by state is between its first and second pages
// (the daemon is blocked writing the first to a caller that has read one
// line). The export has each key that existed when it began exactly once:
// read page by page, keys whose state moved past the cursor came twice
// and keys that moved before it were skipped.
func TestExportDuringASyncHasEachKeyOnce(t *testing.T) {
	inv := exportInventory(6000)
	sock := startInventory(t, inv)
	hc := testkit.UnixClient(sock)
	resp, err := hc.Get("http://keyward/v1/export/keys?format=ndjson&sort=state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	// The sync, through a second connection to the daemon's database.
	st := storetest.Open(t, filepath.Join(filepath.Dir(sock), "data", "keyward.db"))
	for src, ks := range inv {
		moved := make([]engine.Key, len(ks))
		for i, k := range ks {
			k.State = engine.States[(slices.Index(engine.States, k.State)+3)%len(engine.States)]
			moved[i] = k
		}
		if _, err := st.Apply(context.Background(), store.Change{Source: src, Upsert: moved}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	seen := map[string]int{}
	for line := first; ; {
		var k engine.Key
		if err := json.Unmarshal(line, &k); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[k.ID]++
		if line, err = br.ReadBytes('\n'); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	twice, missing := 0, 0
	for _, ks := range inv {
		for _, k := range ks {
			switch seen[k.ID] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
	}
	if twice > 0 || missing > 0 || len(seen) != 6000 {
		t.Fatalf("an export during a sync: %d keys exported twice or more, %d skipped, %d distinct of 6000", twice, missing, len(seen))
	}
}
