package gcp

import (
	"context"
	"errors"
	"net"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/demo/gcpkms"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/store/storetest"
)

// loser serves the Cloud KMS fake behind an interceptor that lets the
// next call of one RPC through, then loses its answer: the fake did the
// work, the client gets Unavailable, as from a connection cut or a
// front-end that gave up. Google's client retries Unavailable by itself
// for DestroyCryptoKeyVersion and RestoreCryptoKeyVersion.
type loser struct {
	mu    sync.Mutex
	rpc   string
	calls map[string]int
	// times is how many more answers of rpc are lost (lose: one).
	times int
	// refuse, when set, answers every call with this error instead.
	refuse error
	// swap, when set, replaces the request of the next lost call: what
	// the fake does is what another administrator asked for.
	swap func(req any) any
}

func (l *loser) lose(rpc string) { l.loseTimes(rpc, 1) }

// loseTimes loses the next n successful answers of rpc.
func (l *loser) loseTimes(rpc string, n int) {
	l.mu.Lock()
	l.rpc, l.times, l.calls = rpc, n, map[string]int{}
	l.mu.Unlock()
}

func (l *loser) count(rpc string) int { l.mu.Lock(); defer l.mu.Unlock(); return l.calls[rpc] }

func startLoser(t *testing.T, cfg Settings) (*gcpkms.Server, *Project, *loser) {
	t.Helper()
	fake := gcpkms.New(TestProject)
	l := &loser{calls: map[string]int{}}
	g := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		rpc := path.Base(info.FullMethod)
		l.mu.Lock()
		l.calls[rpc]++
		lose := l.rpc == rpc && l.times > 0
		swap := l.swap
		if lose {
			if l.times--; l.times == 0 {
				l.rpc = ""
			}
			l.swap = nil
		}
		refuse := l.refuse
		l.mu.Unlock()
		if refuse != nil {
			return nil, refuse
		}
		if lose && swap != nil {
			req = swap(req)
		}
		resp, err := h(ctx, req)
		if lose && err == nil {
			return nil, status.Error(codes.Unavailable, "upstream connect error or disconnect/reset before headers")
		}
		return resp, err
	}))
	fake.Register(g)
	gcpkms.RegisterLogging(g, fake)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	cfg.Name, cfg.Project, cfg.Endpoint, cfg.Credential = "gcp-test", TestProject, lis.Addr().String(), CredNone
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return fake, p, l
}

// A destroy or restore whose answer is lost after Google did it is not
// reported as a failure: Google's client sends it again, Google refuses
// the second (the version is no longer in the state the first found),
// and keyward said the key could not be deleted or recovered although it
// was. The connector reads the version and takes the work as done; the
// key ends as asked, each version changed once.
func TestLifecycleAnswerLostIsNotDoneTwice(t *testing.T) {
	ctx := context.Background()
	_, p, l := startLoser(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	const k = "europe-west1/ring/k"
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rotate(ctx, k); err != nil {
		t.Fatal(err)
	}
	told := func(op string, kv cloud.KeyVersion, rpc, version string) {
		t.Helper()
		if want := "the answer to " + rpc + " was lost for version " + version + "; keyward found it"; !strings.Contains(kv.Recovered, want) {
			t.Errorf("%s: the administrator is told %q, want %q", op, kv.Recovered, want)
		}
	}
	l.lose("DestroyCryptoKeyVersion")
	kv, err := p.DeleteVersion(ctx, k, "1")
	if err != nil {
		t.Fatalf("delete version 1 whose answer was lost: %v", err)
	}
	told("delete version 1", kv, "DestroyCryptoKeyVersion", "1")
	l.lose("DestroyCryptoKeyVersion")
	kv, err = p.Delete(ctx, k)
	if err != nil {
		t.Fatalf("delete whose answer was lost: %v", err)
	}
	told("delete", kv, "DestroyCryptoKeyVersion", "2")
	if kv.Deleted == nil {
		t.Errorf("after delete: %+v", kv)
	}
	l.lose("RestoreCryptoKeyVersion")
	if kv, err = p.Recover(ctx, k); err != nil {
		t.Fatalf("recover whose answer was lost: %v", err)
	}
	told("recover", kv, "RestoreCryptoKeyVersion", "1")
	if kv.Deleted != nil || !kv.Enabled {
		t.Errorf("after recover: %+v", kv)
	}
	if got, primary := versionStates(t, p, k); got != "1:enabled 2:enabled" || primary != "2" {
		t.Errorf("versions %s, primary %s; want 1 and 2 enabled, 2 primary", got, primary)
	}
}

// Cloud KMS over quota answers RESOURCE_EXHAUSTED, with a RetryInfo
// detail saying when to come back, or without one. The sync fails as
// throttled, says so, waits as long as Google asked (the run loop reads
// it), and writes nothing.
func TestQuotaExhausted(t *testing.T) {
	ctx := context.Background()
	_, p, l := startLoser(t, Settings{Locations: []string{"europe-west1"}, CreateIn: "europe-west1/ring"})
	if _, err := p.Create(ctx, cloud.CreateRequest{Name: "k", Type: "oct"}); err != nil {
		t.Fatal(err)
	}
	src := cloud.NewViewSource("gcp-test", p, time.Hour, nil)
	sink := cloudtest.Attach(t, storetest.New(t), src)
	if err := src.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	quota := status.New(codes.ResourceExhausted, "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'cloudkms.googleapis.com'")
	withInfo, err := quota.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(42 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		st   *status.Status
		wait time.Duration
	}{{"with RetryInfo", withInfo, 42 * time.Second}, {"without", quota, 0}} {
		t.Run(c.name, func(t *testing.T) {
			l.mu.Lock()
			l.refuse = c.st.Err()
			l.mu.Unlock()
			err := src.SyncNow(ctx)
			if !errors.Is(err, cloud.ErrThrottled) || !strings.Contains(err.Error(), "quota exceeded") || strings.Contains(err.Error(), "after the client's retries") {
				t.Errorf("sync over quota: %v", err)
			}
			if got := cloud.RetryAfter(err); got != c.wait {
				t.Errorf("retry after %s, want %s", got, c.wait)
			}
			keys, _ := sink.Known(ctx, "gcp-test")
			if len(keys) != 1 || keys[0].State != engine.StateActive {
				t.Errorf("inventory after the throttled sync: %+v", keys)
			}
			l.mu.Lock()
			l.refuse = nil
			l.mu.Unlock()
		})
	}
}
