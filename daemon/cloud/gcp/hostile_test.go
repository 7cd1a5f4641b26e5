package gcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
)

// hostileKMS is the Cloud KMS fake with ListCryptoKeyVersions answering
// what a broken or hostile endpoint could: the real answer is replaced by
// answer's when it is set.
type hostileKMS struct {
	*gcpkms.Server
	mu     sync.Mutex
	calls  int
	answer func(call int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse
}

func (h *hostileKMS) ListCryptoKeyVersions(ctx context.Context, r *kmspb.ListCryptoKeyVersionsRequest) (*kmspb.ListCryptoKeyVersionsResponse, error) {
	h.mu.Lock()
	answer := h.answer
	h.calls++
	n := h.calls
	h.mu.Unlock()
	if answer == nil {
		return h.Server.ListCryptoKeyVersions(ctx, r)
	}
	return answer(n, r), nil
}

func startHostile(t *testing.T, logs ...loggingpb.LoggingServiceV2Server) (*hostileKMS, *Project) {
	t.Helper()
	h := &hostileKMS{Server: gcpkms.New(TestProject)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(g, h)
	location.RegisterLocationsServer(g, h.Server)
	if len(logs) > 0 {
		loggingpb.RegisterLoggingServiceV2Server(g, logs[0])
	} else {
		gcpkms.RegisterLogging(g, h.Server)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cfg := Settings{Name: "gcp-hostile", Project: TestProject, Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring",
		Endpoint: lis.Addr().String(), Credential: CredNone}
	if errs := cfg.Validate("gcp"); len(errs) > 0 {
		t.Fatal(errs)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if _, err := p.Create(context.Background(), cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	return h, p
}

// set makes the versions' listing answer, and forgets what the view knew
// of the key, so the next listing asks.
func (h *hostileKMS) set(p *Project, answer func(int, *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse) {
	h.mu.Lock()
	h.answer = answer
	h.mu.Unlock()
	p.view.mu.Lock()
	clear(p.view.cache)
	p.view.mu.Unlock()
}

func listAll(ctx context.Context, p *Project) ([]cloud.KeyVersion, error) {
	var out []cloud.KeyVersion
	err := p.ListKeys(ctx, func(kvs []cloud.KeyVersion) error { out = append(out, kvs...); return nil })
	return out, err
}

func version(parent string, id int, st kmspb.CryptoKeyVersion_CryptoKeyVersionState) *kmspb.CryptoKeyVersion {
	return &kmspb.CryptoKeyVersion{Name: fmt.Sprintf("%s/cryptoKeyVersions/%d", parent, id), State: st,
		Algorithm: kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION}
}

// TestHostileVersionListing: a listing of a key's versions that pages
// forever, repeats its page token, or names a state Cloud KMS's enum does
// not know fails or degrades with a reason, in bounded time; a key with
// 10,000 versions is listed.
func TestHostileVersionListing(t *testing.T) {
	for _, c := range []struct {
		name, want, naming string
		answer             func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse
	}{
		{"endless pages", "pages", "the endless paging", func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			var vs []*kmspb.CryptoKeyVersion
			for i := range 1000 {
				vs = append(vs, version(r.GetParent(), n*1000+i, kmspb.CryptoKeyVersion_ENABLED))
			}
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: vs, NextPageToken: fmt.Sprint("p", n)}
		}},
		// Google's iterator asks again by itself while a page comes back
		// short: each request is checked, not each page handed over.
		{"empty pages", "empty pages in a row", "the endless empty pages", func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			return &kmspb.ListCryptoKeyVersionsResponse{NextPageToken: fmt.Sprint("e", n)}
		}},
		{"short pages looping", "paging loop", "the paging loop", func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			next := map[string]string{"": "a", "a": "b", "b": "a"}[r.GetPageToken()]
			return &kmspb.ListCryptoKeyVersionsResponse{NextPageToken: next}
		}},
		{"repeated token", "paging loop", "the repeated page token", func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: []*kmspb.CryptoKeyVersion{version(r.GetParent(), 1, kmspb.CryptoKeyVersion_ENABLED)},
				NextPageToken: "same"}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, p := startHostile(t)
			h.set(p, c.answer)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, err := listAll(ctx, p)
			if ctx.Err() != nil {
				t.Fatalf("the listing ran until the test's deadline (%d pages): %v", h.calls, err)
			}
			if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want a bad answer naming %s", err, c.naming)
			}
		})
	}
	t.Run("unknown state", func(t *testing.T) {
		h, p := startHostile(t)
		h.set(p, func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: []*kmspb.CryptoKeyVersion{version(r.GetParent(), 1, 77)}}
		})
		kvs, err := listAll(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		// A state keyward cannot read is not a destroyed key: the key
		// stays in the inventory, its state shown for what it is.
		if len(kvs) != 1 || kvs[0].Enabled || kvs[0].Tags[TagState] != "77" {
			t.Fatalf("a key whose version's state is unknown is listed as %+v", kvs)
		}
	})
	t.Run("10000 versions", func(t *testing.T) {
		h, p := startHostile(t)
		h.set(p, func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			start := 0
			fmt.Sscan(r.GetPageToken(), &start)
			var vs []*kmspb.CryptoKeyVersion
			for i := start; i < min(start+1000, 10000); i++ {
				vs = append(vs, version(r.GetParent(), i+1, kmspb.CryptoKeyVersion_ENABLED))
			}
			next := ""
			if start+1000 < 10000 {
				next = fmt.Sprint(start + 1000)
			}
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: vs, NextPageToken: next}
		})
		kvs, err := listAll(context.Background(), p)
		if err != nil || len(kvs) != 1 {
			t.Fatalf("%d keys, %v", len(kvs), err)
		}
		all, err := p.Versions(context.Background(), "europe-west1/ring/k")
		if err != nil || len(all) != 10000 {
			t.Fatalf("%d versions, %v", len(all), err)
		}
	})
}

// hostileLog is a Cloud Logging whose ListLogEntries answers what answer
// makes of the call's number and request.
type hostileLog struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	mu     sync.Mutex
	calls  int
	answer func(call int, r *loggingpb.ListLogEntriesRequest) *loggingpb.ListLogEntriesResponse
}

func (l *hostileLog) ListLogEntries(_ context.Context, r *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	l.mu.Lock()
	l.calls++
	n := l.calls
	l.mu.Unlock()
	return l.answer(n, r), nil
}

// decrypt is a data-access entry of a Decrypt of the test key's version 1
// at t (nil: no time), by who.
func decrypt(t *testing.T, at *timestamppb.Timestamp, who string) *loggingpb.LogEntry {
	t.Helper()
	payload, err := anypb.New(&audit.AuditLog{ServiceName: "cloudkms.googleapis.com", MethodName: gcpkms.MethodPrefix + "Decrypt",
		ResourceName:       "projects/" + TestProject + "/locations/europe-west1/keyRings/ring/cryptoKeys/k/cryptoKeyVersions/1",
		AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: who}})
	if err != nil {
		t.Fatal(err)
	}
	return &loggingpb.LogEntry{LogName: "projects/" + TestProject + "/logs/cloudaudit.googleapis.com%2Fdata_access", Timestamp: at,
		Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: payload}}
}

// TestHostileAuditLog: Cloud Logging answers that page forever, repeat a
// page token, or carry entries of no time or of a time outside the hour
// asked for: the read fails with a reason in bounded time, or counts only
// the entries of the hour.
func TestHostileAuditLog(t *testing.T) {
	old := maxPages["ListLogEntries"]
	maxPages["ListLogEntries"] = 20
	t.Cleanup(func() { maxPages["ListLogEntries"] = old })
	hour := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	in := timestamppb.New(hour.Add(10 * time.Minute))
	for _, tc := range []struct {
		name   string
		answer func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse
		says   string // the error's, or "" for a read that succeeds
	}{
		{"endless", func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse {
			return &loggingpb.ListLogEntriesResponse{Entries: []*loggingpb.LogEntry{decrypt(t, in, "a@x")}, NextPageToken: fmt.Sprint("p", n)}
		}, "still paging after 20 pages"},
		{"repeated token", func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse {
			return &loggingpb.ListLogEntriesResponse{Entries: []*loggingpb.LogEntry{decrypt(t, in, "a@x")}, NextPageToken: "again"}
		}, "paging loop"},
		{"bad times", func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse {
			return &loggingpb.ListLogEntriesResponse{Entries: []*loggingpb.LogEntry{
				decrypt(t, in, "a@x"), decrypt(t, timestamppb.New(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)), "future@x"),
				decrypt(t, timestamppb.New(hour.Add(-time.Second)), "before@x"), decrypt(t, timestamppb.New(hour.Add(time.Hour)), "after@x"),
			}}
		}, ""},
		{"no time", func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse {
			return &loggingpb.ListLogEntriesResponse{Entries: []*loggingpb.LogEntry{decrypt(t, in, "a@x"), decrypt(t, nil, "none@x")}}
		}, "an entry its own client cannot read"},
		{"time out of range", func(t *testing.T, n int) *loggingpb.ListLogEntriesResponse {
			return &loggingpb.ListLogEntriesResponse{Entries: []*loggingpb.LogEntry{decrypt(t, &timestamppb.Timestamp{Seconds: -1 << 62}, "invalid@x")}}
		}, "an entry its own client cannot read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &hostileLog{}
			l.answer = func(n int, _ *loggingpb.ListLogEntriesRequest) *loggingpb.ListLogEntriesResponse {
				return tc.answer(t, n)
			}
			_, p := startHostile(t, l)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			uses, err := p.Usage(ctx, hour, hour.Add(time.Hour))
			if ctx.Err() != nil {
				t.Fatalf("the read ran until the test's deadline (%d pages): %v", l.calls, err)
			}
			if tc.says == "" {
				if err != nil || len(uses) != 1 || uses[0].Principal != "a@x" || uses[0].Decrypts != 1 {
					t.Fatalf("usage %+v, %v: want one decrypt by a@x (the entries outside the hour left out)", uses, err)
				}
				return
			}
			if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), "audit log") {
				t.Fatalf("error %v (%#v), want a bad answer of the audit log saying %q", err, errors.Unwrap(err), tc.says)
			}
			if uses != nil {
				t.Fatalf("a failed read counted %+v", uses)
			}
		})
	}
}
