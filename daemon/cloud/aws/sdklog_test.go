package aws

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyward/keyward/daemon/cloud/cloudtest"
	"github.com/keyward/keyward/daemon/testkit"
)

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

	stderr := cloudtest.Stderr(t)
	var log testkit.Buffer
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
	if leaked := stderr(); leaked != "" {
		t.Errorf("the SDK wrote to stderr: %q", leaked)
	}
	got := log.String()
	if !strings.Contains(got, "failed to discard remaining HTTP response body") || !strings.Contains(got, "level=WARN") || !strings.Contains(got, "source=aws-log") {
		t.Errorf("daemon log lacks the SDK's warning with its source:\n%s", got)
	}
}
