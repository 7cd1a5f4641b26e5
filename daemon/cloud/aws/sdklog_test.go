package aws

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// syncBuffer is a bytes.Buffer safe for the SDK's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSDKWarningsGoToDaemonLog: a KMS answer whose body is cut short after
// the JSON makes the SDK warn "failed to discard remaining HTTP response
// body"; the warning must be in the daemon's log, and nothing on stderr
// (where it would draw over the TUI).
func TestSDKWarningsGoToDaemonLog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		conn, bw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		body := `{"Keys":[],"Truncated":false}`
		// Promise more than is sent, then hang up.
		fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: %d\r\n\r\n%s", len(body)+500, body)
		bw.Flush()
	}))
	defer srv.Close()

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = stderr }()

	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := Settings{Name: "aws-log", Region: TestRegion, StaticKeysFile: WriteStaticKeys(t, t.TempDir()), Endpoint: srv.URL, RequestsPerSecond: 1000}
	a, err := New(context.Background(), cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	// The cut body fails the call too; only where the warning goes counts.
	_, err = a.client.ListKeys(context.Background(), &kms.ListKeysInput{})
	if err == nil {
		t.Error("ListKeys of a cut body succeeded")
	}
	os.Stderr = stderr
	w.Close()
	leaked, _ := io.ReadAll(r)
	if len(leaked) != 0 {
		t.Errorf("the SDK wrote to stderr: %q", leaked)
	}
	got := log.String()
	if !strings.Contains(got, "failed to discard remaining HTTP response body") || !strings.Contains(got, "level=WARN") || !strings.Contains(got, "source=aws-log") {
		t.Errorf("daemon log lacks the SDK's warning with its source:\n%s", got)
	}
}
