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
	"google.golang.org/genproto/googleapis/cloud/location"
	"google.golang.org/grpc"

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

func startHostile(t *testing.T) (*hostileKMS, *Project) {
	t.Helper()
	h := &hostileKMS{Server: gcpkms.New(TestProject)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	kmspb.RegisterKeyManagementServiceServer(g, h)
	location.RegisterLocationsServer(g, h.Server)
	gcpkms.RegisterLogging(g, h.Server)
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
	t.Run("endless pages", func(t *testing.T) {
		h, p := startHostile(t)
		h.set(p, func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			var vs []*kmspb.CryptoKeyVersion
			for i := range 1000 {
				vs = append(vs, version(r.GetParent(), n*1000+i, kmspb.CryptoKeyVersion_ENABLED))
			}
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: vs, NextPageToken: fmt.Sprint("p", n)}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := listAll(ctx, p)
		if ctx.Err() != nil {
			t.Fatalf("the listing ran until the test's deadline (%d pages): %v", h.calls, err)
		}
		if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), "pages") {
			t.Fatalf("error %v, want a bad answer naming the endless paging", err)
		}
	})
	t.Run("repeated token", func(t *testing.T) {
		h, p := startHostile(t)
		h.set(p, func(n int, r *kmspb.ListCryptoKeyVersionsRequest) *kmspb.ListCryptoKeyVersionsResponse {
			return &kmspb.ListCryptoKeyVersionsResponse{CryptoKeyVersions: []*kmspb.CryptoKeyVersion{version(r.GetParent(), 1, kmspb.CryptoKeyVersion_ENABLED)},
				NextPageToken: "same"}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := listAll(ctx, p)
		if ctx.Err() != nil {
			t.Fatalf("the listing ran until the test's deadline (%d pages): %v", h.calls, err)
		}
		if !errors.Is(err, cloud.ErrBadAnswer) || !strings.Contains(err.Error(), "page token") {
			t.Fatalf("error %v, want a bad answer naming the repeated page token", err)
		}
	})
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
