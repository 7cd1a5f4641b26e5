package common_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/tui/common"
)

// Get bounds the request by the context's Timeout and hands back what the
// request answered, value and error alike.
func TestGetBoundsTheRequest(t *testing.T) {
	c := &common.Context{Ctx: context.Background(), Timeout: 50 * time.Millisecond}
	start := time.Now()
	_, err := common.Get(c, func(ctx context.Context) (int, error) {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the request context has no deadline")
		}
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("the request ran %v past a 50ms timeout", d)
	}
	v, err := common.Get(c, func(context.Context) (string, error) { return "answer", nil })
	if v != "answer" || err != nil {
		t.Fatalf("Get = %q, %v", v, err)
	}
}
